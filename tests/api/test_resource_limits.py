"""Every resource limit, exactly at it (accepted) and one past it (refused, nothing stored).

The limits are set small here so that the requests stay small; each case
builds a request whose measured size (bytes, records, depth, aliases, tokens)
is exactly the limit or the limit + 1, and checks that measure independently
of the server's own code before sending it.
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiosqlite
import httpx
import orjson
import pytest
import pytest_asyncio
from graphql import FieldNode, OperationDefinitionNode, Source, TokenKind, parse
from graphql.language import Lexer

from server.app import create_app
from server.models import Record
from server.settings import Settings
from tests.conftest import CREATE, CREATE_MANY, UPDATE, error_codes, gql
from tests.people import gql_as, people_fixture  # noqa: F401 (fixture)
from tests.postgres import sqlite_only

LIMITS = {
    "max_body_bytes": 2048,
    "max_record_bytes": 256,
    "max_batch_records": 3,
    "max_page_size": 4,
    "max_query_depth": 5,
    "max_aliases": 4,
    "max_tokens": 120,
}
LIST_FIRST = "query($endpoint: ID!, $first: Int) { records(endpoint: $endpoint, first: $first) { edges { node { id } } } }"
AUDIT_FIRST = "query($w: ID!, $first: Int) { workspace(id: $w) { auditEvents(first: $first) { edges { node { action } } } } }"


@pytest.fixture
def settings(settings):
    return settings.replace(**LIMITS)


# --- independent measures ---------------------------------------------------------------


def token_count(document: str) -> int:
    """Tokens as graphql-core's parser counts them for `max_tokens`: every lexical
    token between the start and the end of the source, comments included."""
    lexer = Lexer(Source(document))
    while lexer.advance().kind is not TokenKind.EOF:
        pass
    count, token = 0, lexer.token.prev  # walk back from EOF: the links include comments
    while token is not None and token.kind is not TokenKind.SOF:
        count, token = count + 1, token.prev
    return count


def depth(document: str) -> int:
    """How deep the deepest field of a fragment-free document sits, root fields at 0
    (as graphql-depth-limit and strawberry's depth limiter count)."""

    def deepest(selection_set, level: int) -> int:
        found = level
        for field in selection_set.selections:
            assert isinstance(field, FieldNode)
            if field.selection_set:
                found = max(found, deepest(field.selection_set, level + 1))
        return found

    operation = parse(document).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return deepest(operation.selection_set, 0)


def alias_count(document: str) -> int:
    return sum(1 for line in document.split() if line.endswith(":") and line[:-1].isidentifier())


# --- documents of an exact size ---------------------------------------------------------


def nested(levels: int) -> str:
    """An introspection path `levels` fields deep: the root field at 0, `name` at `levels`."""
    path = ["__schema", "types", "fields", "type"] + ["ofType"] * max(0, levels - 4)
    path = path[:levels]
    return "{ " + " { ".join(path) + " { name }" + " }" * len(path)


def aliased(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


def tokens(count: int) -> str:
    """`{ __typename … }` with a comment, `count` tokens in all (braces and the comment count)."""
    return "{ # counted\n" + " ".join(["__typename"] * (count - 3)) + " }"


# --- the table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    # (client, world, n) -> response; n is the size to send
    send: Callable[..., Any]
    code: str
    status: int  # the HTTP status of the refusal
    limit: str  # the setting
    writes: bool = False  # a write: "at" stores rows, "past" stores none


async def _record_of(size: int) -> dict[str, Any]:
    """An order whose stored JSON is exactly `size` bytes."""
    data = {"customer": "Ada", "amount": 1, "note": ""}
    data["note"] = "x" * (size - len(orjson.dumps(data)))
    assert len(orjson.dumps(data)) == size
    return data


async def create_one(client, world, n):
    return await gql(client, world.a.keys["test"], CREATE, {"endpoint": world.a.orders, "data": await _record_of(n)})


async def create_batch_of_records(client, world, n):
    """A batch of small records with one of exactly n bytes in the middle."""
    data = [{"customer": "A", "amount": 1}, await _record_of(n), {"customer": "B", "amount": 2}]
    return await gql(client, world.a.keys["test"], CREATE_MANY, {"endpoint": world.a.orders, "data": data})


async def create_batch(client, world, n):
    data = [{"customer": c, "amount": 1} for c in string.ascii_letters[:n]]
    return await gql(client, world.a.keys["test"], CREATE_MANY, {"endpoint": world.a.orders, "data": data})


def _body_of(world, n: int) -> bytes:
    body = orjson.dumps({"query": CREATE, "variables": {"endpoint": world.a.orders, "data": {"customer": "Ada", "amount": 1}}})
    body += b" " * (n - len(body))  # JSON allows trailing whitespace
    assert len(body) == n
    return body


def _key_headers(world) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.a.keys['test']}", "Content-Type": "application/json"}


async def post_body(client, world, n):
    return await client.post("/graphql", content=_body_of(world, n), headers=_key_headers(world))


async def stream_body(client, world, n):
    """The same body with no Content-Length (chunked), so only the read itself can count."""
    raw = _body_of(world, n)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(raw), 500):
            yield raw[start : start + 500]

    return await client.post("/graphql", content=chunks(), headers=_key_headers(world))


async def page(client, world, n):
    await create_batch(client, world, 3)
    await create_batch(client, world, 3)  # more records than any page asked for
    return await gql(client, world.a.keys["test"], LIST_FIRST, {"endpoint": world.a.orders, "first": n})


async def deep(client, world, n):
    document = nested(n)
    assert depth(document) == n
    return await gql(client, world.a.keys["test"], document)


async def aliases(client, world, n):
    document = aliased(n)
    assert alias_count(document) == n
    return await gql(client, world.a.keys["test"], document)


async def aliases_in_a_fragment(client, world, n):
    """Aliases hidden in a fragment count where it is spread."""
    document = "query { ...F } fragment F on Query { " + " ".join(f"a{i}: __typename" for i in range(n)) + " }"
    return await gql(client, world.a.keys["test"], document)


async def many_tokens(client, world, n):
    document = tokens(n)
    assert token_count(document) == n
    return await gql(client, world.a.keys["test"], document)


CASES = [
    Case("body", post_body, "PAYLOAD_TOO_LARGE", 413, "max_body_bytes", writes=True),
    Case("streamed body", stream_body, "PAYLOAD_TOO_LARGE", 413, "max_body_bytes", writes=True),
    Case("record", create_one, "PAYLOAD_TOO_LARGE", 413, "max_record_bytes", writes=True),
    Case("record in a batch", create_batch_of_records, "PAYLOAD_TOO_LARGE", 413, "max_record_bytes", writes=True),
    Case("batch", create_batch, "PAYLOAD_TOO_LARGE", 413, "max_batch_records", writes=True),
    Case("page", page, "VALIDATION_FAILED", 200, "max_page_size"),
    Case("depth", deep, "GRAPHQL_VALIDATION_FAILED", 200, "max_query_depth"),
    Case("aliases", aliases, "GRAPHQL_VALIDATION_FAILED", 200, "max_aliases"),
    Case("aliases in a fragment", aliases_in_a_fragment, "GRAPHQL_VALIDATION_FAILED", 200, "max_aliases"),
    Case("tokens", many_tokens, "GRAPHQL_PARSE_FAILED", 200, "max_tokens"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_exactly_at_the_limit_is_accepted(client, world, settings, case: Case):
    before = await Record.all().count()
    response = await case.send(client, world, getattr(settings, case.limit))
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    if case.writes:
        assert await Record.all().count() > before


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_one_past_the_limit_is_refused_with_its_code_and_stores_nothing(client, world, settings, case: Case):
    before = await Record.all().count()
    response = await case.send(client, world, getattr(settings, case.limit) + 1)
    body = response.json()
    assert response.status_code == case.status, body
    assert error_codes(body) == [case.code], body
    if case.code.startswith("GRAPHQL_") or case.status != 200:
        assert not body.get("data"), body  # refused before anything ran
    if case.writes:
        assert await Record.all().count() == before


async def test_a_record_at_the_limit_is_stored_at_exactly_that_size(client, world, settings):
    response = await create_one(client, world, settings.max_record_bytes)
    stored = await Record.get(id=response.json()["data"]["createRecord"]["id"])
    assert len(orjson.dumps(stored.data)) == settings.max_record_bytes


async def test_an_update_may_grow_a_record_to_the_limit_but_not_past_it(client, world, settings):
    key = world.a.keys["test"]
    created = (await create_one(client, world, 100)).json()["data"]["createRecord"]
    grown = await _record_of(settings.max_record_bytes)
    accepted = await gql(client, key, UPDATE, {"id": created["id"], "data": {"note": grown["note"]}})
    assert accepted.status_code == 200 and "errors" not in accepted.json(), accepted.json()
    refused = await gql(client, key, UPDATE, {"id": created["id"], "data": {"note": grown["note"] + "x"}})
    assert refused.status_code == 413 and error_codes(refused.json()) == ["PAYLOAD_TOO_LARGE"]
    assert (await Record.get(id=created["id"])).data["note"] == grown["note"]


@pytest.mark.parametrize(("first", "codes"), [(LIMITS["max_page_size"], []), (LIMITS["max_page_size"] + 1, ["VALIDATION_FAILED"])])
async def test_page_size_of_the_audit_log_for_people(client, world, people, first, codes):
    response = await gql_as(client, people.owner.token, AUDIT_FIRST, {"w": world.a.workspace, "first": first})
    assert response.status_code == 200 and error_codes(response.json()) == codes, response.json()
    if not codes:
        assert len(response.json()["data"]["workspace"]["auditEvents"]["edges"]) == first


async def test_graphql_limits_are_400_for_graphql_response_json(client, world, settings):
    """With the GraphQL over HTTP media type, a document refused before execution is a 400."""
    headers = {"Authorization": f"Bearer {world.a.keys['test']}", "Accept": "application/graphql-response+json"}
    for document in (nested(settings.max_query_depth + 1), aliased(settings.max_aliases + 1), tokens(settings.max_tokens + 1)):
        response = await client.post("/graphql", json={"query": document}, headers=headers)
        assert response.status_code == 400 and "data" not in response.json(), response.json()


def test_the_measures_of_this_file_agree_with_graphql_core():
    """Guards the helpers above: a wrong count would make every case meaningless."""
    assert token_count("{ a }") == 3 and token_count("{ # c\n a }") == 4
    assert token_count("query($x: Int) { a(b: $x) }") == 16
    assert depth("{ a }") == 0 and depth("{ a { b { c } } }") == 2
    assert depth(nested(5)) == 5 and token_count(tokens(10)) == 10
    parse(tokens(10), max_tokens=10)
    with pytest.raises(Exception, match="more than 9 tokens"):
        parse(tokens(10), max_tokens=9)


# --- request timeout ----------------------------------------------------------------------
# A tiny limit and an injected slow step: the slow step is cancelled at the
# limit, so no test waits for it.

SLOW = 0.5  # seconds the injected slow step would take; always longer than the limit below


@pytest.fixture
def timeout_settings(settings):
    return settings.replace(request_timeout_seconds=0.05)


@pytest_asyncio.fixture
async def hurried(timeout_settings) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose requests may take 0.05 s (same database as `client`)."""
    app = create_app(timeout_settings, manage_database=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


def _timed_out(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert error_codes(response.json()) == ["TIMEOUT"] and "data" not in response.json()


async def test_a_slow_resolver_is_stopped_with_timeout(hurried, world, monkeypatch):
    from server.services import records

    async def slow(*args, **kwargs):
        await asyncio.sleep(SLOW)

    monkeypatch.setattr(records, "list_records", slow)
    _timed_out(await gql(hurried, world.a.keys["test"], LIST_FIRST, {"endpoint": world.a.orders, "first": 1}))


async def test_a_slow_body_is_stopped_with_timeout_and_stores_nothing(hurried, world):
    raw = _body_of(world, 1000)

    async def trickle() -> AsyncIterator[bytes]:
        yield raw[:10]
        await asyncio.sleep(SLOW)  # a client that stops sending mid-body
        yield raw[10:]

    _timed_out(await hurried.post("/graphql", content=trickle(), headers=_key_headers(world)))
    assert await Record.all().count() == 0


@pytest.fixture
def slow_inserts(monkeypatch):
    """Every insert writes its rows, then stalls before it returns: a timeout
    lands while the rows are written but not committed."""

    def stalling(original):
        async def insert(self, *args, **kwargs):
            result = await original(self, *args, **kwargs)
            await asyncio.sleep(SLOW)
            return result

        return insert

    for name in ("execute_insert", "executemany"):
        monkeypatch.setattr(aiosqlite.Connection, name, stalling(getattr(aiosqlite.Connection, name)))


@sqlite_only("the stall is injected into aiosqlite's insert")
@pytest.mark.parametrize("count", [1, 3], ids=["createRecord", "createRecords"])
async def test_a_write_already_committing_when_time_runs_out_is_finished_and_acknowledged(hurried, client, world, slow_inserts, monkeypatch, count):
    """A commit cannot be split (it may carry other requests' records): the
    request waits for it and says what happened, never TIMEOUT for a stored record."""
    batch = [{"customer": c, "amount": 1} for c in "abc"[:count]]
    variables = {"endpoint": world.a.orders, "data": batch[0] if count == 1 else batch}
    response = await gql(hurried, world.a.keys["test"], CREATE if count == 1 else CREATE_MANY, variables)
    assert response.status_code == 200 and "errors" not in response.json(), response.json()
    answered = response.json()["data"]["createRecord" if count == 1 else "createRecords"]
    ids = sorted(r["id"] for r in (answered if count > 1 else [answered]))
    assert sorted(await Record.all().values_list("id", flat=True)) == ids
    # The connection is usable afterwards: no transaction was left open on it.
    monkeypatch.undo()
    response = await gql(client, world.a.keys["test"], CREATE_MANY, {"endpoint": world.a.orders, "data": batch})
    assert response.status_code == 200 and "errors" not in response.json(), response.json()
    assert await Record.all().count() == 2 * count


@sqlite_only("the stall is injected into aiosqlite's insert")
async def test_a_write_whose_time_runs_out_while_waiting_for_a_commit_keeps_nothing(hurried, client, world, monkeypatch):
    """Another request's commit is stalled; this one's rows wait for the next
    commit, its time runs out there: TIMEOUT, and its record is never written."""
    written, original = asyncio.Event(), aiosqlite.Connection.execute_insert

    async def stalling(self, *args, **kwargs):
        result = await original(self, *args, **kwargs)
        written.set()
        await asyncio.sleep(SLOW)
        return result

    monkeypatch.setattr(aiosqlite.Connection, "execute_insert", stalling)
    first = asyncio.create_task(gql(client, world.a.keys["test"], CREATE, {"endpoint": world.a.orders, "data": {"customer": "first", "amount": 1}}))
    await written.wait()  # the first commit has begun: its row is written, not committed
    _timed_out(await gql(hurried, world.a.keys["test"], CREATE, {"endpoint": world.a.orders, "data": {"customer": "late", "amount": 2}}))
    response = await first
    assert response.status_code == 200 and "errors" not in response.json(), response.json()
    assert await Record.all().values_list("data", flat=True) == [{"customer": "first", "amount": 1}]


async def test_a_request_within_the_timeout_is_not_stopped(client, world, slow_inserts):
    """The same slow insert under the default limit (30 s) completes."""
    batch = [{"customer": c, "amount": 1} for c in "ab"]
    response = await gql(client, world.a.keys["test"], CREATE_MANY, {"endpoint": world.a.orders, "data": batch})
    assert response.status_code == 200 and "errors" not in response.json(), response.json()
    assert await Record.all().count() == 2


def test_the_timeout_setting_reads_seconds_and_zero_turns_it_off():
    assert Settings().request_timeout_seconds == 30
    assert Settings.from_env({"THREEMIN_REQUEST_TIMEOUT_SECONDS": "2.5"}).request_timeout_seconds == 2.5
    assert Settings.from_env({"THREEMIN_REQUEST_TIMEOUT_SECONDS": "0"}).request_timeout_seconds == 0
