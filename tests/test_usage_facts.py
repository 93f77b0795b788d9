"""Usage facts: per key, operation and day, allowed and refused; write shapes; clients as keyed hashes; retention.

Everything is noted in memory and counted only when flushed, so each test
makes requests, flushes once, and reads the tables.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from tortoise.context import require_context

from server import keys
from server.db import LoopReader
from server.models import ApiKey, ClientDay, UsageDay, UsageMonth, UsageShape
from server.policy import OPERATOR, Permission
from server.services import keys as key_service
from server.services import usage
from server.services.audit import CLI
from server.services.usage import KeyUsage, roll_up
from tests.conftest import SECRET, gql, issue, key_id
from tests.postgres import table_names
from tests.people import gql_as, people_fixture  # noqa: F401 (fixture)

CREATE = "mutation($e: ID!, $d: JSON!) { createRecord(endpoint: $e, data: $d) { id } }"
CREATE_MANY = "mutation($e: ID!, $d: [JSON!]!) { createRecords(endpoint: $e, data: $d) { id } }"
UPDATE = "mutation($id: ID!, $d: JSON!) { updateRecord(id: $id, data: $d) { id } }"
DELETE = "mutation($id: ID!) { deleteRecord(id: $id) }"
LIST = "query($e: ID!) { records(endpoint: $e) { edges { node { id } } } }"
ONE = "query($id: ID!) { record(id: $id) { id } }"
VIEWER = "{ viewer { kind } }"
ORDER = {"customer": "Ada", "amount": 1}


@asynccontextmanager
async def client_from(app, ip: str) -> AsyncIterator[httpx.AsyncClient]:
    """A partner calling from `ip` (the ASGI scope's client address)."""
    transport = httpx.ASGITransport(app=app, client=(ip, 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def code(response: httpx.Response, field: str) -> str | None:
    body = response.json()
    errors = [e for e in body.get("errors", []) if e.get("path", [None])[0] == field or "path" not in e]
    return errors[0]["extensions"]["code"] if errors else None


async def days_of(ident: str) -> dict[str, tuple[int, int]]:
    rows = await UsageDay.filter(key_id=ident).values("operation", "allowed", "refused", "day")
    assert {row["day"] for row in rows} <= {datetime.now(UTC).date()}
    return {row["operation"]: (row["allowed"], row["refused"]) for row in rows}


async def create(client, key: str, endpoint: str, data: Any = ORDER) -> str:
    response = await gql(client, key, CREATE, {"e": endpoint, "d": data})
    return response.json()["data"]["createRecord"]["id"]


# --- operations ------------------------------------------------------------------------


async def test_each_operation_is_counted_allowed_per_key_and_day(app, client, world):
    key, a = world.a.keys["test"], world.a
    made = [await create(client, key, a.orders) for _ in range(2)]
    assert code(await gql(client, key, CREATE_MANY, {"e": a.orders, "d": [ORDER, ORDER]}), "createRecords") is None
    assert code(await gql(client, key, LIST, {"e": a.orders}), "records") is None
    assert code(await gql(client, key, ONE, {"id": made[0]}), "record") is None
    assert code(await gql(client, key, UPDATE, {"id": made[0], "d": {"note": "x"}}), "updateRecord") is None
    assert code(await gql(client, key, DELETE, {"id": made[1]}), "deleteRecord") is None
    await gql(client, key, VIEWER)  # not a record operation: a use, no operation
    ident = await key_id(key)
    assert await days_of(ident) == {}  # nothing written per request
    await app.state.key_usage.flush()
    assert await days_of(ident) == {"create": (3, 0), "read": (2, 0), "update": (1, 0), "delete": (1, 0)}
    assert await days_of(await key_id(world.a.keys["live"])) == {}


async def test_refusals_are_counted_refused_and_bad_data_allowed(app, client, world):
    a = world.a
    creator = await issue(a, permissions=["create"], writable_fields=["customer", "amount"])
    record = await create(client, world.a.keys["test"], a.orders)
    refusals = [
        (await gql(client, creator, LIST, {"e": a.orders}), "records", "FORBIDDEN"),
        (await gql(client, creator, ONE, {"id": record}), "record", "FORBIDDEN"),
        (await gql(client, creator, UPDATE, {"id": record, "d": {"note": "x"}}), "updateRecord", "FORBIDDEN"),
        (await gql(client, creator, DELETE, {"id": record}), "deleteRecord", "FORBIDDEN"),
        (await gql(client, creator, CREATE, {"e": a.leads, "d": ORDER}), "createRecord", "NOT_FOUND"),  # not its endpoint
        (await gql(client, creator, CREATE, {"e": a.orders, "d": ORDER | {"note": "x"}}), "createRecord", "FIELD_NOT_ALLOWED"),
        (await gql(client, creator, CREATE, {"e": a.orders, "d": {"customer": "Ada", "amount": -1}}), "createRecord", "VALIDATION_FAILED"),
    ]
    assert [code(response, field) for response, field, _ in refusals] == [expected for _, _, expected in refusals]
    await create(client, creator, a.orders)
    await app.state.key_usage.flush()
    # Bad data is an allowed request that failed: the key was permitted to try.
    assert await days_of(await key_id(creator)) == {"create": (2, 2), "read": (0, 2), "update": (0, 1), "delete": (0, 1)}


async def test_a_test_key_asking_for_a_live_record_is_refused(app, client, world):
    live_record = await create(client, world.a.keys["live"], world.a.orders)
    assert code(await gql(client, world.a.keys["test"], ONE, {"id": live_record}), "record") == "NOT_FOUND"
    await app.state.key_usage.flush()
    assert await days_of(await key_id(world.a.keys["test"])) == {"read": (0, 1)}


async def test_two_operations_in_one_document_count_twice(app, client, world):
    key = world.a.keys["test"]
    both = "mutation($e: ID!, $d: JSON!) { one: createRecord(endpoint: $e, data: $d) { id } two: createRecord(endpoint: $e, data: $d) { id } }"
    await gql(client, key, both, {"e": world.a.orders, "d": ORDER})
    await app.state.key_usage.flush()
    assert await days_of(await key_id(key)) == {"create": (2, 0)}


async def test_refusals_before_execution_count_for_an_identified_key(app, client, world, settings):
    a = world.a
    off, expired, limited = await issue(a), await issue(a), await issue(a, rate_limit=1)
    await key_service.set_active(OPERATOR, await key_id(off), False, CLI)
    await ApiKey.filter(id=await key_id(expired)).update(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    assert (await gql(client, off, VIEWER)).json()["errors"][0]["extensions"]["code"] == "KEY_DISABLED"
    assert (await gql(client, expired, VIEWER)).json()["errors"][0]["extensions"]["code"] == "KEY_EXPIRED"
    await gql(client, limited, VIEWER)
    assert (await gql(client, limited, VIEWER)).status_code == 429
    real = world.a.keys["test"]
    for unknown in ("tm_test_nope", real[:-1] + ("x" if real[-1] != "x" else "y"), "Bearer-ish"):  # never the real key again
        assert (await gql(client, unknown, VIEWER)).status_code == 401
    await app.state.key_usage.flush()
    assert await days_of(await key_id(off)) == {usage.BEFORE_EXECUTION: (0, 1)}
    assert await days_of(await key_id(expired)) == {usage.BEFORE_EXECUTION: (0, 1)}
    assert await days_of(await key_id(limited)) == {usage.BEFORE_EXECUTION: (0, 1)}
    # A refused request is not a use.
    assert (await ApiKey.get(id=await key_id(off))).last_used_at is None
    assert await ClientDay.filter(key_id=await key_id(off)).count() == 0
    assert await UsageDay.all().count() == 3


async def test_people_reading_records_are_not_counted_as_key_usage(app, client, world, people):
    await create(client, world.a.keys["test"], world.a.orders)
    await app.state.key_usage.flush()
    before = await UsageDay.all().values_list("key_id", "operation", "allowed", "refused")
    response = await gql_as(client, people.viewer.token, "query($e: ID!) { records(endpoint: $e, environment: TEST) { edges { node { id } } } }", {"e": world.a.orders})
    assert len(response.json()["data"]["records"]["edges"]) == 1
    await app.state.key_usage.flush()
    assert await UsageDay.all().values_list("key_id", "operation", "allowed", "refused") == before


# --- write shapes ------------------------------------------------------------------------


async def test_write_shapes_are_the_fields_each_allowed_request_wrote(app, client, world):
    key, a = world.a.keys["test"], world.a
    first = await create(client, key, a.orders)
    await create(client, key, a.orders, {"amount": 2, "customer": "Bo"})
    await create(client, key, a.orders, ORDER | {"note": "n"})
    await gql(client, key, CREATE_MANY, {"e": a.orders, "d": [ORDER, {"customer": "C", "amount": 3, "note": "m"}]})
    await gql(client, key, UPDATE, {"id": first, "d": {"note": None}})  # removing a field writes it
    await gql(client, key, CREATE, {"e": a.orders, "d": {"customer": "D", "amount": 1, "made_up": 1}})  # VALIDATION_FAILED
    await gql(client, key, LIST, {"e": a.orders})
    await gql(client, key, DELETE, {"id": first})
    await app.state.key_usage.flush()
    ident = await key_id(key)
    shapes = {(row["operation"], row["fields"]): row["requests"] for row in await UsageShape.filter(key_id=ident).values()}
    assert shapes == {
        ("create", "amount,customer"): 3,  # two plain creates and the one with a made-up field (not kept)
        ("create", "amount,customer,note"): 2,  # one create, and the batch: the union of its records
        ("update", "note"): 1,
        ("read", ""): 1,
        ("delete", ""): 1,
    }
    hashes = await UsageShape.filter(key_id=ident).values_list("fields_hash", flat=True)
    assert len(set(hashes)) == 4 and all(len(h) == 32 for h in hashes)  # read and delete share the empty set
    # Shapes account for every allowed request, and only for those.
    days = await days_of(ident)
    for operation, (allowed, _) in days.items():
        assert sum(n for (op, _), n in shapes.items() if op == operation) == allowed


async def test_refused_writes_leave_no_shape(app, client, world):
    narrow = await issue(world.a, permissions=["create"], writable_fields=["customer", "amount"])
    await gql(client, narrow, CREATE, {"e": world.a.orders, "d": ORDER | {"note": "x"}})
    await app.state.key_usage.flush()
    assert await UsageShape.filter(key_id=await key_id(narrow)).count() == 0


# --- clients -------------------------------------------------------------------------------


async def clients_after(app, key: str, calls: list[tuple[str, str]]) -> list[int]:
    for ip, agent in calls:
        async with client_from(app, ip) as client:
            assert (await gql(client, key, VIEWER, **{"User-Agent": agent})).status_code == 200
    await app.state.key_usage.flush()
    rows = await ClientDay.filter(key_id=await key_id(key)).order_by("-requests", "client").values_list("requests", flat=True)
    return list(rows)


async def test_a_client_is_the_v4_network_and_user_agent(app, world):
    calls = [
        ("198.51.100.7", "shop/1.0"),
        ("198.51.100.200", "shop/1.0"),  # same /24, same agent: the same client
        ("198.51.100.7", "shop/2.0"),  # another agent
        ("198.51.101.7", "shop/1.0"),  # another /24
    ]
    assert await clients_after(app, world.a.keys["test"], calls) == [2, 1, 1]


async def test_a_client_is_the_v6_network_and_user_agent(app, world):
    calls = [
        ("2001:db8:1:2::10", "erp"),
        ("2001:db8:1:2:ffff::1", "erp"),  # same /64
        ("2001:db8:1:3::10", "erp"),  # another /64
    ]
    assert await clients_after(app, world.a.keys["test"], calls) == [2, 1]


async def test_clients_are_stored_only_as_keyed_hashes(app, world):
    ip, agent = "203.0.113.77", "Distinctive-Agent/9.9"
    await clients_after(app, world.a.keys["test"], [(ip, agent)])
    stored = await ClientDay.get(key_id=await key_id(world.a.keys["test"]))
    assert len(stored.client) == 32 and int(stored.client, 16) >= 0
    # Another server secret gives another hash: a stolen database alone cannot test guesses.
    assert KeyUsage(SECRET).client(ip, agent) == stored.client != KeyUsage("another secret").client(ip, agent)
    connection = require_context().db()
    for table in await table_names():
        for row in await connection.execute_query_dict(f'SELECT * FROM "{table}"'):
            text = " ".join(str(value) for value in row.values())
            for raw in (ip, "203.0.113", agent, "Distinctive"):
                assert raw not in text, (table, raw)


# --- flushing --------------------------------------------------------------------------------


async def test_counts_survive_a_failed_flush_and_are_not_counted_twice(app, client, world, monkeypatch):
    key = world.a.keys["test"]
    await create(client, key, world.a.orders)
    await gql(client, key, LIST, {"e": world.a.orders})
    # The last statement of the flush fails, after the day counts were written in the same transaction.
    monkeypatch.setattr(usage, "_CLIENTS", 'INSERT INTO "no_such_table" VALUES (?, ?, ?, ?)')
    with pytest.raises(Exception, match="no_such_table"):
        await app.state.key_usage.flush()
    ident = await key_id(key)
    assert await days_of(ident) == {} and (await ApiKey.get(id=ident)).last_used_at is None
    monkeypatch.undo()
    assert await app.state.key_usage.flush() == 1
    assert await days_of(ident) == {"create": (1, 0), "read": (1, 0)}
    assert await ClientDay.filter(key_id=ident).values_list("requests", flat=True) == [2]


async def test_flushes_and_workers_add_up(app, client, world):
    key, ident = world.a.keys["test"], await key_id(world.a.keys["test"])
    await create(client, key, world.a.orders)
    await app.state.key_usage.flush()
    await create(client, key, world.a.orders)
    await app.state.key_usage.flush()
    # Another worker's notes for the same rows.
    other = KeyUsage(SECRET)
    principal = await _principal(key)
    with other.counting(principal, Permission.CREATE, ["amount", "customer"]):
        pass
    other.note(ident, datetime.now(UTC), "127.0.0.1", None)
    await other.flush()
    assert await days_of(ident) == {"create": (3, 0)}
    assert await UsageShape.filter(key_id=ident).values_list("requests", flat=True) == [3]


async def test_a_key_deleted_before_the_flush_is_dropped_without_failing(app, client, world):
    doomed = await issue(world.a)
    await create(client, doomed, world.a.orders)
    await create(client, world.a.keys["test"], world.a.orders)
    await key_service.delete_key(OPERATOR, await key_id(doomed), CLI)
    assert await app.state.key_usage.flush() == 1
    assert await days_of(await key_id(world.a.keys["test"])) == {"create": (1, 0)}
    assert await app.state.key_usage.flush() == 0  # nothing held back for the deleted key


async def _principal(key: str):
    from server.services.verification import principal_for

    return await principal_for(key, SECRET, datetime.now(UTC))


# --- retention -------------------------------------------------------------------------------


async def test_days_past_400_roll_up_into_months(world):
    ident, other = await key_id(world.a.keys["test"]), await key_id(world.a.keys["live"])
    today = date(2027, 3, 15)
    kept = today - timedelta(days=400)  # 2026-02-08: still kept
    rows = [
        (ident, date(2026, 2, 7), "create", 5, 1),
        (ident, date(2026, 2, 1), "create", 7, 0),
        (ident, date(2026, 2, 1), "read", 2, 3),
        (ident, date(2026, 1, 31), "create", 11, 0),
        (other, date(2025, 12, 24), "delete", 1, 1),
        (ident, kept, "create", 100, 100),
    ]
    for key, day, operation, allowed, refused in rows:
        await UsageDay.create(key_id=key, day=day, operation=operation, allowed=allowed, refused=refused)
    await UsageMonth.create(key_id=ident, month=date(2026, 2, 1), operation="create", allowed=1000, refused=0)  # an earlier roll-up
    for day in (date(2026, 2, 7), kept):
        await ClientDay.create(key_id=ident, day=day, client="c" * 32, requests=1)
        await UsageShape.create(key_id=ident, day=day, operation="create", fields="amount", fields_hash="f" * 32, requests=1)

    assert await roll_up(today) == 5
    months = {(m["key_id"], m["month"], m["operation"]): (m["allowed"], m["refused"]) for m in await UsageMonth.all().values()}
    assert months == {
        (ident, date(2026, 2, 1), "create"): (1012, 1),
        (ident, date(2026, 2, 1), "read"): (2, 3),
        (ident, date(2026, 1, 1), "create"): (11, 0),
        (other, date(2025, 12, 1), "delete"): (1, 1),
    }
    assert await UsageDay.all().values_list("day", "allowed") == [(kept, 100)]
    assert await ClientDay.all().values_list("day", flat=True) == [kept]
    assert await UsageShape.all().values_list("day", flat=True) == [kept]
    assert await roll_up(today) == 0  # again: nothing counted twice
    assert (await UsageMonth.get(key_id=ident, month=date(2026, 2, 1), operation="create")).allowed == 1012


async def test_malformed_and_unknown_keys_cost_no_query_beyond_the_lookup_and_count_nowhere(app, client, world, monkeypatch, sent_statements):
    statements = sent_statements
    read_on_loop = LoopReader.rows
    monkeypatch.setattr(LoopReader, "rows", lambda self, sql, params: statements.append(sql) or read_on_loop(self, sql, params))
    real = world.a.keys["test"]
    for malformed in ("not-a-key", real[:-1] + ("A" if real[-1] != "A" else "B"), real + "0"):
        assert (await gql(client, malformed, VIEWER)).status_code == 401
    assert statements == []  # shape and checksum refuse these before the database
    unknown = keys.assemble(keys.Environment.TEST, "Z" * 30)
    assert (await gql(client, unknown, VIEWER)).status_code == 401
    assert len(statements) == 1  # the one lookup by hash
    assert await app.state.key_usage.flush() == 0
    assert len(statements) == 1  # nothing noted, nothing written
