"""Safe retries: a mutation sent again with the same Idempotency-Key runs once and answers as it did.

Records are counted and snapshotted (data and updated_at) so that a retry
that ran again, even with the same outcome, would show.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from server.app import create_app
from server.models import IdempotentRequest, Record
from server.policy import OPERATOR
from server.services import idempotency
from server.services import keys as key_service
from server.services import records as record_service
from server.services.audit import CLI
from server.settings import Settings
from tests.conftest import CREATE, CREATE_MANY, DELETE, ORDER, SECRET, UPDATE, error_codes, gql, gql_ok, issue, key_id
from tests.people import gql_as, people_fixture  # noqa: F401  (registers the `people` fixture)

REPLAYED = "idempotent-replayed"


async def send(client: httpx.AsyncClient, key: str, query: str, variables: dict[str, Any], idempotency_key: str | bytes = "order-1") -> httpx.Response:
    return await gql(client, key, query, variables, **{"Idempotency-Key": idempotency_key})


async def records_now() -> list[tuple[str, Any, datetime]]:
    return sorted((r.id, r.data, r.updated_at) for r in await Record.all())


async def _record(client, tenant) -> str:
    return (await gql_ok(client, tenant.keys["test"], CREATE, {"endpoint": tenant.orders, "data": ORDER}))["createRecord"]["id"]


async def _create(client, world):
    return CREATE, {"endpoint": world.a.orders, "data": ORDER}


async def _create_many(client, world):
    return CREATE_MANY, {"endpoint": world.a.orders, "data": [ORDER, {"customer": "Bob", "amount": 1}]}


async def _update(client, world):
    return UPDATE, {"id": await _record(client, world.a), "data": {"amount": 7}}


async def _delete(client, world):
    return DELETE, {"id": await _record(client, world.a)}


@pytest.mark.parametrize("mutation", [_create, _create_many, _update, _delete], ids=["createRecord", "createRecords", "updateRecord", "deleteRecord"])
async def test_a_retry_replays_the_first_answer_and_changes_nothing(client, world, mutation):
    query, variables = await mutation(client, world)
    first = await send(client, world.a.keys["test"], query, variables)
    assert first.status_code == 200 and "errors" not in first.json(), first.text
    assert REPLAYED not in first.headers
    after_first = await records_now()

    again = await send(client, world.a.keys["test"], query, variables)
    assert again.status_code == first.status_code and again.content == first.content
    assert again.headers[REPLAYED] == "true" and again.headers["content-type"] == first.headers["content-type"]
    assert await records_now() == after_first  # not run again: not even updated_at moved


async def test_the_same_request_in_another_layout_is_the_same_request(client, world):
    key, variables = world.a.keys["test"], {"endpoint": world.a.orders, "data": {"customer": "Ada", "amount": 42.5}}
    first = await send(client, key, CREATE, variables)
    reordered = {"data": {"amount": 42.5, "customer": "Ada"}, "endpoint": world.a.orders}
    spaced_query = "# the same mutation, laid out differently\n" + CREATE.replace("{", " {\n  ").replace(",", " ,")
    again = await client.post(
        "/graphql",
        content=json.dumps({"variables": reordered, "query": spaced_query}, indent=3),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", "Idempotency-Key": "order-1"},
    )
    assert again.headers.get(REPLAYED) == "true" and again.content == first.content
    assert await Record.all().count() == 1


@pytest.mark.parametrize(
    "changed",
    [
        {"data": {"customer": "Ada", "amount": 43}},  # another value
        {"data": {"customer": "Ada", "amount": 42.5, "note": "x"}},  # one more field
        {"endpoint": "ep_other"},  # another endpoint
    ],
)
async def test_the_same_idempotency_key_with_another_request_is_a_conflict(client, world, changed):
    key, variables = world.a.keys["test"], {"endpoint": world.a.orders, "data": {"customer": "Ada", "amount": 42.5}}
    await send(client, key, CREATE, variables)
    before = await records_now()

    response = await send(client, key, CREATE, {**variables, **changed})
    assert response.status_code == 409 and error_codes(response.json()) == ["IDEMPOTENCY_CONFLICT"]
    assert await records_now() == before
    other_operation = await send(client, key, DELETE, {"id": before[0][0]})
    assert other_operation.status_code == 409 and error_codes(other_operation.json()) == ["IDEMPOTENCY_CONFLICT"]
    assert await records_now() == before


async def test_idempotency_keys_are_scoped_to_the_api_key(client, world):
    a_second_key = await issue(world.a, env="test")
    variables = {"endpoint": world.a.orders, "data": ORDER}
    first = await send(client, world.a.keys["test"], CREATE, variables)
    other = await send(client, a_second_key, CREATE, variables)
    other_tenant = await send(client, world.b.keys["test"], CREATE, {"endpoint": world.b.orders, "data": ORDER})
    for response in (other, other_tenant):
        assert response.status_code == 200 and REPLAYED not in response.headers
    ids = {r.json()["data"]["createRecord"]["id"] for r in (first, other, other_tenant)}
    assert len(ids) == 3 and await Record.all().count() == 3


async def test_a_rolled_key_keeps_its_idempotency_keys(client, world):
    """Rolling changes the secret, not the key: a retry with the new secret is still a retry."""
    old_secret, variables = world.a.keys["test"], {"endpoint": world.a.orders, "data": ORDER}
    first = await send(client, old_secret, CREATE, variables)
    rolled = await key_service.roll_key(OPERATOR, await key_id(old_secret), key_service.RollGrace.NONE, Settings(secret_key=SECRET), CLI)
    again = await send(client, rolled.secret, CREATE, variables)
    assert again.headers[REPLAYED] == "true" and again.content == first.content
    assert await Record.all().count() == 1


async def test_concurrent_duplicates_create_one_record_and_get_one_answer(client, world):
    variables = {"endpoint": world.a.orders, "data": ORDER}
    one, two = await asyncio.gather(*(send(client, world.a.keys["test"], CREATE, variables) for _ in range(2)))
    assert one.status_code == two.status_code == 200 and one.content == two.content
    assert [REPLAYED in r.headers for r in (one, two)].count(True) == 1
    assert await Record.all().count() == 1


async def test_a_duplicate_sent_while_the_first_is_in_flight_waits_for_its_answer(client, world, monkeypatch):
    """The first attempt is held inside its write until the duplicate has started.

    On SQLite the duplicate then waits for the first one's transaction at its
    first query (the key check); on PostgreSQL at the unique index of the
    remembered requests. Either way it must end up with the first answer.
    """
    from server.graphql import http

    writing, duplicate_started, release = asyncio.Event(), asyncio.Event(), asyncio.Event()
    real_insert, real_authenticate = record_service._insert, http.authenticate

    async def held_insert(*args):
        writing.set()
        await release.wait()
        await real_insert(*args)

    async def noted_authenticate(*args):
        if writing.is_set():
            duplicate_started.set()
        return await real_authenticate(*args)

    monkeypatch.setattr(record_service, "_insert", held_insert)
    monkeypatch.setattr(http, "authenticate", noted_authenticate)
    variables = {"endpoint": world.a.orders, "data": ORDER}
    first = asyncio.create_task(send(client, world.a.keys["test"], CREATE, variables))
    await writing.wait()
    duplicate = asyncio.create_task(send(client, world.a.keys["test"], CREATE, variables))
    await duplicate_started.wait()
    release.set()
    first_answer, duplicate_answer = await first, await duplicate

    assert first_answer.status_code == 200 and duplicate_answer.content == first_answer.content, (first_answer.text, duplicate_answer.text)
    assert REPLAYED not in first_answer.headers and duplicate_answer.headers[REPLAYED] == "true"
    assert await Record.all().count() == 1


async def test_a_duplicate_that_loses_the_race_to_insert_replays_the_winner(client, world, monkeypatch):
    """Its first look found nothing (the other attempt had not committed yet), so its own insert
    hits the unique index: it must answer with the committed answer, not an error."""
    variables = {"endpoint": world.a.orders, "data": ORDER}
    first = await send(client, world.a.keys["test"], CREATE, variables)
    real_remembered, looks = idempotency._remembered, []

    async def first_look_misses(attempt):
        looks.append(attempt)
        return None if len(looks) == 1 else await real_remembered(attempt)

    monkeypatch.setattr(idempotency, "_remembered", first_look_misses)
    again = await send(client, world.a.keys["test"], CREATE, variables)
    assert len(looks) == 2 and again.headers[REPLAYED] == "true" and again.content == first.content
    assert await Record.all().count() == 1


async def test_an_idempotency_key_older_than_24_hours_is_new_again(client, world):
    variables = {"endpoint": world.a.orders, "data": ORDER}
    first = await send(client, world.a.keys["test"], CREATE, variables)
    await IdempotentRequest.all().update(created_at=datetime.now(UTC) - timedelta(hours=24, seconds=1))

    again = await send(client, world.a.keys["test"], CREATE, variables)
    assert again.status_code == 200 and REPLAYED not in again.headers
    assert again.json()["data"]["createRecord"]["id"] != first.json()["data"]["createRecord"]["id"]
    assert await Record.all().count() == 2
    assert await IdempotentRequest.all().count() == 1  # the expired answer made way for the new one


async def test_forget_expired_deletes_only_answers_older_than_24_hours(client, world):
    for name in ("old", "fresh"):
        await send(client, world.a.keys["test"], CREATE, {"endpoint": world.a.orders, "data": ORDER}, idempotency_key=name)
    now = datetime.now(UTC)
    await IdempotentRequest.filter(idempotency_key="old").update(created_at=now - timedelta(hours=25))

    assert await idempotency.forget_expired(now) == 1
    assert [row.idempotency_key for row in await IdempotentRequest.all()] == ["fresh"]


@pytest.mark.parametrize(
    "header",
    ["", " ", "a" * 256, "order 1", "order\t1", "ordér-1".encode(), ["one", "two"]],
    ids=["empty", "blank", "256 characters", "space", "tab", "not ASCII", "two headers"],
)
async def test_a_malformed_idempotency_key_is_refused(client, world, header):
    headers = [("Authorization", f"Bearer {world.a.keys['test']}")]
    headers += [("Idempotency-Key", value) for value in (header if isinstance(header, list) else [header])]
    response = await client.post("/graphql", json={"query": CREATE, "variables": {"endpoint": world.a.orders, "data": ORDER}}, headers=headers)
    assert response.status_code == 400 and error_codes(response.json()) == ["BAD_REQUEST"]
    assert "Idempotency-Key" in response.json()["errors"][0]["message"]
    assert await Record.all().count() == 0 and await IdempotentRequest.all().count() == 0


async def test_the_longest_idempotency_key_is_accepted(client, world):
    longest = "".join(chr(33 + i % 94) for i in range(255))  # every visible ASCII character
    first = await send(client, world.a.keys["test"], CREATE, {"endpoint": world.a.orders, "data": ORDER}, idempotency_key=longest)
    again = await send(client, world.a.keys["test"], CREATE, {"endpoint": world.a.orders, "data": ORDER}, idempotency_key=longest)
    assert first.status_code == 200 and again.headers[REPLAYED] == "true" and await Record.all().count() == 1


async def test_the_header_is_ignored_on_queries(client, world):
    response = await send(client, world.a.keys["test"], "{ viewer { kind } }", {}, idempotency_key="not valid at all")
    assert response.status_code == 200 and response.json()["data"]["viewer"]["kind"] == "KEY"
    assert await IdempotentRequest.all().count() == 0


async def test_a_session_mutation_with_the_header_is_refused(client, world, people):
    mutation = "mutation($w: ID!) { createPartner(workspace: $w, name: \"Initech\") { id } }"
    response = await gql_as(client, people.owner.token, mutation, {"w": world.a.workspace}, **{"Idempotency-Key": "p-1"})
    assert response.status_code == 400 and error_codes(response.json()) == ["BAD_REQUEST"]
    assert "API key" in response.json()["errors"][0]["message"]
    assert await IdempotentRequest.all().count() == 0


async def test_refusals_are_remembered_like_successes(client, world):
    invalid = {"endpoint": world.a.orders, "data": {"customer": "Ada", "amount": "lots"}}
    first = await send(client, world.a.keys["test"], CREATE, invalid)
    assert first.status_code == 200 and error_codes(first.json()) == ["VALIDATION_FAILED"]
    again = await send(client, world.a.keys["test"], CREATE, invalid)
    assert again.headers[REPLAYED] == "true" and again.content == first.content
    assert await Record.all().count() == 0


async def test_an_unexpected_error_keeps_nothing_and_the_retry_runs(client, world, monkeypatch):
    """The record is written, then a bug strikes in the same request: the record goes too, and nothing is remembered."""
    real_create = record_service.create_record

    async def written_then_broken(*args, **kwargs):
        await real_create(*args, **kwargs)
        raise RuntimeError("a bug after the write")

    monkeypatch.setattr(record_service, "create_record", written_then_broken)
    variables = {"endpoint": world.a.orders, "data": ORDER}
    failed = await send(client, world.a.keys["test"], CREATE, variables)
    assert failed.status_code == 500 and error_codes(failed.json()) == ["INTERNAL_ERROR"]
    assert "Nothing was saved" in failed.json()["errors"][0]["message"] and "bug" not in failed.text
    assert failed.json()["errors"][0]["extensions"]["requestId"] == failed.headers["x-request-id"]
    assert await Record.all().count() == 0 and await IdempotentRequest.all().count() == 0

    monkeypatch.setattr(record_service, "create_record", real_create)
    retried = await send(client, world.a.keys["test"], CREATE, variables)
    assert retried.status_code == 200 and REPLAYED not in retried.headers
    assert await Record.all().count() == 1


async def test_a_failure_storing_the_answer_undoes_the_write(client, world, monkeypatch):
    """The record's raw INSERT runs inside the same transaction as the remembered answer."""

    real_save = IdempotentRequest.save

    async def broken_save(self, *args, **kwargs):
        if kwargs.get("update_fields"):  # storing the answer, after the records were written
            raise RuntimeError("disk full while storing the answer")
        await real_save(self, *args, **kwargs)

    monkeypatch.setattr(IdempotentRequest, "save", broken_save)
    failed = await send(client, world.a.keys["test"], CREATE_MANY, {"endpoint": world.a.orders, "data": [ORDER, ORDER]})
    assert failed.status_code == 500 and error_codes(failed.json()) == ["INTERNAL_ERROR"]
    assert await Record.all().count() == 0 and await IdempotentRequest.all().count() == 0


async def test_a_timed_out_attempt_keeps_nothing_and_the_retry_runs(settings, world, client, monkeypatch):
    """The write is done but not committed when the request's time is up (the insert never returns)."""
    hurried_app = create_app(settings.replace(request_timeout_seconds=0.05), manage_database=False)
    real_insert, never = record_service._insert, asyncio.Event()

    async def stuck_after_writing(*args):
        await real_insert(*args)
        await never.wait()

    monkeypatch.setattr(record_service, "_insert", stuck_after_writing)
    variables = {"endpoint": world.a.orders, "data": ORDER}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=hurried_app), base_url="http://testserver") as hurried:
        timed_out = await send(hurried, world.a.keys["test"], CREATE, variables)
    assert timed_out.status_code == 503 and error_codes(timed_out.json()) == ["TIMEOUT"]
    assert await Record.all().count() == 0 and await IdempotentRequest.all().count() == 0

    monkeypatch.setattr(record_service, "_insert", real_insert)
    retried = await send(client, world.a.keys["test"], CREATE, variables)
    assert retried.status_code == 200 and REPLAYED not in retried.headers and await Record.all().count() == 1
