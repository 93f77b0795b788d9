"""Checking data against an endpoint's fields, and the size limits on records and bodies.

Every field type with good and bad values; every refusal names the field in
`extensions.fields` and saves nothing.
"""

from __future__ import annotations

import orjson
import pytest
import pytest_asyncio

from server.models import Record
from server.policy import OPERATOR
from server.services import workspaces
from server.services.audit import CLI
from tests.conftest import CREATE_MANY, UPDATE, error_codes, gql, issue

FIELDS = [
    {"name": "r", "type": "string", "required": True},
    {"name": "s", "type": "string", "min_length": 2, "max_length": 5},
    {"name": "i", "type": "integer", "min": 1, "max": 10},
    {"name": "n", "type": "number", "min": -1.5, "max": 2.5},
    {"name": "b", "type": "boolean"},
    {"name": "d", "type": "datetime"},
    {"name": "e", "type": "email"},
    {"name": "u", "type": "url"},
    {"name": "j", "type": "json"},
    {"name": "k", "type": "json"},
]
CREATE = "mutation($e: ID!, $d: JSON!) { createRecord(endpoint: $e, data: $d) { id data } }"

GOOD = [
    ("s", "ab"), ("s", "abcde"), ("s", "ééé"),
    ("i", 1), ("i", 10), ("i", 5),
    ("n", -1.5), ("n", 2.5), ("n", 0), ("n", 1), ("n", 0.25),
    ("b", True), ("b", False),
    ("d", "2026-12-04T17:00:00Z"), ("d", "2026-12-04T17:00:00+02:00"), ("d", "2026-12-04T17:00:00.123456-05:30"),
    ("e", "ada@example.com"), ("e", "first.last+tag@mail.example.co.uk"),
    ("u", "https://example.com/path?q=1"), ("u", "http://localhost:8000"),
    ("j", {"nested": [1, {"x": None}]}), ("j", [1, "two"]), ("j", "text"), ("j", 3.5), ("j", False),
]
BAD = [
    # (field, value, a fragment the message must contain)
    ("s", "a", "at least 2"), ("s", "abcdef", "at most 5"), ("s", 12, "string"), ("s", ["ab"], "string"),
    ("i", 0, "at least 1"), ("i", 11, "at most 10"), ("i", 1.5, "integer"), ("i", "3", "integer"), ("i", True, "integer"),
    ("n", -1.6, "at least -1.5"), ("n", 2.6, "at most 2.5"), ("n", "1", "number"), ("n", True, "number"), ("n", {}, "number"),
    ("b", "true", "true or false"), ("b", 1, "true or false"), ("b", 0, "true or false"),
    ("d", "2026-12-04T17:00:00", "time zone"), ("d", "2026-12-04", "time zone"), ("d", "tomorrow", "ISO 8601"), ("d", 1733331600, "string"),
    ("e", "not-an-email", "email"), ("e", "ada@localhost", "email"), ("e", "a da@example.com", "email"), ("e", "x" * 250 + "@ex.com", "email"), ("e", 5, "string"),
    ("u", "ftp://example.com", "URL"), ("u", "example.com", "URL"), ("u", "http://", "URL"), ("u", "javascript:alert(1)", "URL"),
    ("u", "https://example.com/" + "a" * 2040, "URL"),
    ("u", "http://exa mple.com", "URL"), ("u", "http://\nexample.com", "URL"), ("u", "https://example.com:99999/", "URL"),
]


@pytest_asyncio.fixture
async def typed(world):
    endpoint = await workspaces.create_endpoint(OPERATOR, world.a.workspace, "typed", FIELDS, CLI)
    return endpoint.id, await issue(world.a, endpoint=endpoint.id)


async def _create(client, typed, data):
    endpoint, key = typed
    return await gql(client, key, CREATE, {"e": endpoint, "d": data})


def _refused(response, code: str = "VALIDATION_FAILED", status: int = 200) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert error_codes(body) == [code], body
    if "data" in body:
        assert body["data"] is None, body
    return body["errors"][0]


def _fields(response) -> dict[str, str]:
    fields = _refused(response)["extensions"]["fields"]
    assert all(isinstance(why, str) and why for why in fields.values()), fields
    return fields


@pytest.mark.parametrize("name, value", GOOD, ids=[f"{n}={v!r}"[:40] for n, v in GOOD])
async def test_good_values_are_stored_as_sent(client, typed, name, value):
    response = await _create(client, typed, {"r": "x", name: value})
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    assert body["data"]["createRecord"]["data"] == {"r": "x", name: value}
    assert (await Record.get(id=body["data"]["createRecord"]["id"])).data == {"r": "x", name: value}


@pytest.mark.parametrize("name, value, why", BAD, ids=[f"{n}={v!r}"[:40] for n, v, _ in BAD])
async def test_bad_values_are_refused_by_field_and_nothing_is_saved(client, typed, name, value, why):
    fields = _fields(await _create(client, typed, {"r": "x", name: value}))
    assert list(fields) == [name]
    assert why.lower() in fields[name].lower(), fields
    assert await Record.all().count() == 0


async def test_every_problem_is_reported_at_once(client, typed):
    fields = _fields(await _create(client, typed, {"s": "a", "i": 99, "b": "no", "zzz": 1}))
    assert set(fields) == {"r", "s", "i", "b", "zzz"}
    assert "required" in fields["r"] and "not a field" in fields["zzz"]
    assert await Record.all().count() == 0


@pytest.mark.parametrize("data", [{}, {"s": "abc"}, {"r": None}], ids=["empty", "other-field-only", "null"])
async def test_required_field_missing(client, typed, data):
    fields = _fields(await _create(client, typed, data))
    assert "required" in fields["r"]
    assert await Record.all().count() == 0


async def test_required_field_of_the_wrong_type_is_refused(client, typed):
    assert "string" in _fields(await _create(client, typed, {"r": 0}))["r"]


@pytest.mark.parametrize("field", ["unknown", "R", "__typename", "r "])
async def test_unknown_field_is_refused(client, typed, field):
    fields = _fields(await _create(client, typed, {"r": "x", field: "v"}))
    assert list(fields) == [field]
    assert await Record.all().count() == 0


@pytest.mark.parametrize("data", [[{"r": "x"}], "r=x", 5, True], ids=["list", "string", "number", "bool"])
async def test_non_object_data_is_refused(client, typed, data):
    assert list(_fields(await _create(client, typed, data))) == ["data"]
    assert await Record.all().count() == 0


@pytest.mark.parametrize("name", ["n", "i", "j"])
async def test_integer_literal_beyond_64_bits_is_a_validation_error_not_a_crash(client, world, name):
    """GraphQL literals (unlike JSON variables) can carry integers of any size; here fields without limits."""
    unbounded = [{"name": "n", "type": "number"}, {"name": "i", "type": "integer"}, {"name": "j", "type": "json"}]
    endpoint = (await workspaces.create_endpoint(OPERATOR, world.a.workspace, "unbounded", unbounded, CLI)).id
    key = await issue(world.a, endpoint=endpoint)
    document = 'mutation { createRecord(endpoint: "%s", data: {%s: 1%s}) { id } }' % (endpoint, name, "0" * 400)
    assert list(_fields(await gql(client, key, document))) == [name]
    assert await Record.all().count() == 0


async def test_null_data_is_refused_and_saves_nothing(client, typed):
    response = await _create(client, typed, None)
    assert response.json().get("errors"), response.json()
    assert response.json().get("data") is None
    assert await Record.all().count() == 0


async def test_batch_and_update_use_the_same_checks(client, typed):
    endpoint, key = typed
    batch = await gql(client, key, CREATE_MANY, {"endpoint": endpoint, "data": [{"r": "x"}, {"r": "x", "u": "nope"}]})
    assert list(_fields(batch)) == ["data[1].u"]
    assert await Record.all().count() == 0
    created = (await _create(client, typed, {"r": "x", "i": 3})).json()["data"]["createRecord"]
    update = await gql(client, key, UPDATE, {"id": created["id"], "data": {"i": 0, "e": "bad"}})
    assert set(_fields(update)) == {"i", "e"}
    assert (await Record.get(id=created["id"])).data == {"r": "x", "i": 3}


# --- sizes --------------------------------------------------------------------------------


async def test_record_just_under_64_kib_is_accepted(client, typed):
    response = await _create(client, typed, {"r": "x", "j": "x" * 60_000})
    assert response.status_code == 200 and "errors" not in response.json()
    assert await Record.all().count() == 1


async def test_record_over_64_kib_is_413_and_saves_nothing(client, typed, settings):
    response = await _create(client, typed, {"r": "x", "j": "x" * (settings.max_record_bytes + 1)})
    _refused(response, "PAYLOAD_TOO_LARGE", 413)
    assert await Record.all().count() == 0


async def test_one_oversize_record_in_a_batch_is_413_and_saves_nothing(client, typed, settings):
    endpoint, key = typed
    data = [{"r": "x"}, {"r": "x", "j": "x" * (settings.max_record_bytes + 1)}]
    _refused(await gql(client, key, CREATE_MANY, {"endpoint": endpoint, "data": data}), "PAYLOAD_TOO_LARGE", 413)
    assert await Record.all().count() == 0


async def test_update_whose_merged_record_is_over_64_kib_is_413_and_changes_nothing(client, typed, settings):
    endpoint, key = typed
    half = "x" * (settings.max_record_bytes // 2 + 100)
    created = (await _create(client, typed, {"r": "x", "j": half})).json()["data"]["createRecord"]
    response = await gql(client, key, UPDATE, {"id": created["id"], "data": {"k": half}})
    _refused(response, "PAYLOAD_TOO_LARGE", 413)
    assert (await Record.get(id=created["id"])).data == {"r": "x", "j": half}


def _big_body(endpoint: str, settings) -> bytes:
    return orjson.dumps({"query": CREATE, "variables": {"e": endpoint, "d": {"r": "x"}, "pad": "x" * (settings.max_body_bytes + 1)}})


async def test_body_over_1_mib_is_413_and_saves_nothing(client, typed, settings):
    endpoint, key = typed
    response = await client.post("/graphql", content=_big_body(endpoint, settings), headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    _refused(response, "PAYLOAD_TOO_LARGE", 413)
    assert await Record.all().count() == 0


async def test_streamed_body_over_1_mib_without_content_length_is_413(client, typed, settings):
    endpoint, key = typed
    raw = _big_body(endpoint, settings)

    async def chunks():
        for start in range(0, len(raw), 64 * 1024):
            yield raw[start : start + 64 * 1024]

    response = await client.post("/graphql", content=chunks(), headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    _refused(response, "PAYLOAD_TOO_LARGE", 413)
    assert await Record.all().count() == 0


@pytest.mark.parametrize("raw", [
    b'{"query": "mutation { x }"',
    b"not json at all",
    b'{"query": "q", "variables": {"d": NaN}}',
    b"",
], ids=["truncated", "text", "nan", "empty"])
async def test_invalid_json_body_is_400_and_saves_nothing(client, typed, raw):
    _, key = typed
    response = await client.post("/graphql", content=raw, headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    _refused(response, "BAD_REQUEST", 400)
    assert await Record.all().count() == 0


@pytest.mark.parametrize("payload", [[1, 2], {"variables": {}}, {"query": ""}, {"query": CREATE, "variables": [1]}], ids=["array", "no-query", "blank-query", "variables-list"])
async def test_json_body_of_the_wrong_shape_is_400(client, typed, payload):
    _, key = typed
    response = await client.post("/graphql", json=payload, headers={"Authorization": f"Bearer {key}"})
    _refused(response, "BAD_REQUEST", 400)
    assert await Record.all().count() == 0
