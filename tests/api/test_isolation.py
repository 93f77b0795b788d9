"""Separation: test vs live, endpoint vs endpoint, workspace vs workspace.

DESIGN.md: a key reaches one endpoint, in one environment, in its own
workspace; anything else is NOT_FOUND, and the answer never tells whether the
object exists (same body as for an id that was never issued).
"""

from __future__ import annotations

import pytest

from server.models import Record
from tests.conftest import CREATE, DELETE, GET, LIST, ORDER, UPDATE, error_codes, gql, gql_ok, issue

MISSING_ENDPOINT = "ep_doesnotexist000000000"
MISSING_RECORD = "rec_doesnotexist00000000"


def _not_found(response) -> dict:
    assert response.status_code == 200, response.text
    body = response.json()
    assert error_codes(body) == ["NOT_FOUND"], body
    return body


async def _state() -> list[tuple]:
    return sorted((r.id, r.environment, r.endpoint_id, r.partner_id, r.data) for r in await Record.all())


async def _assert_unreachable_by_id(client, key: str, record_id: str, patch: dict | None = None) -> list[dict]:
    """record / updateRecord / deleteRecord all answer NOT_FOUND; return the bodies.

    `patch` must be valid for the key's own endpoint, so that only reachability decides."""
    before = await _state()
    bodies = [
        _not_found(await gql(client, key, GET, {"id": record_id})),
        _not_found(await gql(client, key, UPDATE, {"id": record_id, "data": patch or {"amount": 1}})),
        _not_found(await gql(client, key, DELETE, {"id": record_id})),
    ]
    assert bodies[0]["data"] == {"record": None}
    assert bodies[1]["data"] is None and bodies[2]["data"] is None
    assert await _state() == before
    return bodies


def _strip_request_ids(body: dict) -> dict:
    for error in body.get("errors", []):
        error.get("extensions", {}).pop("requestId", None)
    return body


# --- test and live ------------------------------------------------------------------------


@pytest.mark.parametrize("writer, reader", [("test", "live"), ("live", "test")])
async def test_records_of_one_environment_are_invisible_to_the_other(client, world, writer, reader):
    a = world.a
    created = (await gql_ok(client, a.keys[writer], CREATE, {"endpoint": a.orders, "data": ORDER}))["createRecord"]
    assert created["environment"] == writer.upper()

    page = (await gql_ok(client, a.keys[reader], LIST, {"endpoint": a.orders}))["records"]
    assert page["edges"] == [] and page["pageInfo"]["hasNextPage"] is False
    await _assert_unreachable_by_id(client, a.keys[reader], created["id"])

    record = await Record.get(id=created["id"])
    assert record.data == ORDER and record.environment == writer
    assert (await gql_ok(client, a.keys[writer], GET, {"id": created["id"]}))["record"]["data"] == ORDER


@pytest.mark.parametrize("env", ["test", "live"])
async def test_each_environment_lists_only_its_own_records(client, world, env):
    a = world.a
    other = "live" if env == "test" else "test"
    mine = [(await gql_ok(client, a.keys[env], CREATE, {"endpoint": a.orders, "data": ORDER}))["createRecord"]["id"] for _ in range(2)]
    await gql_ok(client, a.keys[other], CREATE, {"endpoint": a.orders, "data": ORDER})
    edges = (await gql_ok(client, a.keys[env], LIST, {"endpoint": a.orders}))["records"]["edges"]
    assert sorted(edge["node"]["id"] for edge in edges) == sorted(mine)
    assert {edge["node"]["environment"] for edge in edges} == {env.upper()}


async def test_live_key_cannot_page_into_test_records_with_a_test_cursor(client, world):
    a = world.a
    for _ in range(3):
        await gql_ok(client, a.keys["test"], CREATE, {"endpoint": a.orders, "data": ORDER})
    cursor = (await gql_ok(client, a.keys["test"], LIST, {"endpoint": a.orders, "first": 1}))["records"]["pageInfo"]["endCursor"]
    page = (await gql_ok(client, a.keys["live"], LIST, {"endpoint": a.orders, "after": cursor}))["records"]
    assert page["edges"] == []


# --- another endpoint ---------------------------------------------------------------------


async def test_key_for_another_endpoint_sees_not_found(client, world):
    a = world.a
    leads_key = await issue(a, endpoint=a.leads)
    created = (await gql_ok(client, a.keys["test"], CREATE, {"endpoint": a.orders, "data": ORDER}))["createRecord"]

    listed = _not_found(await gql(client, leads_key, LIST, {"endpoint": a.orders}))
    assert listed["data"] is None
    _not_found(await gql(client, leads_key, CREATE, {"endpoint": a.orders, "data": ORDER}))
    await _assert_unreachable_by_id(client, leads_key, created["id"], {"email": "eve@example.com"})
    assert await Record.all().count() == 1

    # The leads key still works on its own endpoint, and its list does not include orders.
    await gql_ok(client, leads_key, CREATE, {"endpoint": a.leads, "data": {"email": "ada@example.com"}})
    edges = (await gql_ok(client, leads_key, LIST, {"endpoint": a.leads}))["records"]["edges"]
    assert len(edges) == 1 and edges[0]["node"]["data"] == {"email": "ada@example.com"}


async def test_another_endpoint_answers_like_a_missing_one(client, world):
    a = world.a
    leads_key = await issue(a, endpoint=a.leads)
    for document, variables in ((LIST, {}), (CREATE, {"data": ORDER})):
        real = _not_found(await gql(client, leads_key, document, {"endpoint": a.orders, **variables}))
        fake = _not_found(await gql(client, leads_key, document, {"endpoint": MISSING_ENDPOINT, **variables}))
        assert _strip_request_ids(real) == _strip_request_ids(fake)


# --- another workspace ---------------------------------------------------------------------


@pytest.mark.parametrize("document, extra", [(LIST, {}), (CREATE, {"data": ORDER})], ids=["records", "createRecord"])
async def test_other_workspace_endpoint_is_not_found_exactly_like_a_missing_one(client, world, document, extra):
    b_key = world.b.keys["test"]
    before = await _state()
    real = _not_found(await gql(client, b_key, document, {"endpoint": world.a.orders, **extra}))
    fake = _not_found(await gql(client, b_key, document, {"endpoint": MISSING_ENDPOINT, **extra}))
    assert _strip_request_ids(real) == _strip_request_ids(fake)
    assert await _state() == before


@pytest.mark.parametrize("env", ["test", "live"])
async def test_other_workspace_record_is_not_found_exactly_like_a_missing_one(client, world, env):
    a, b = world.a, world.b
    created = (await gql_ok(client, a.keys[env], CREATE, {"endpoint": a.orders, "data": ORDER}))["createRecord"]
    b_key = b.keys[env]
    real = await _assert_unreachable_by_id(client, b_key, created["id"])
    fake = await _assert_unreachable_by_id(client, b_key, MISSING_RECORD)
    assert [_strip_request_ids(x) for x in real] == [_strip_request_ids(x) for x in fake]
    assert (await Record.get(id=created["id"])).data == ORDER

    listed = (await gql_ok(client, b_key, LIST, {"endpoint": b.orders}))["records"]["edges"]
    assert listed == []


async def test_other_workspace_listing_never_returns_foreign_records(client, world):
    a, b = world.a, world.b
    await gql_ok(client, a.keys["test"], CREATE, {"endpoint": a.orders, "data": ORDER})
    mine = (await gql_ok(client, b.keys["test"], CREATE, {"endpoint": b.orders, "data": ORDER}))["createRecord"]["id"]
    edges = (await gql_ok(client, b.keys["test"], LIST, {"endpoint": b.orders}))["records"]["edges"]
    assert [edge["node"]["id"] for edge in edges] == [mine]


async def test_not_found_messages_do_not_echo_the_foreign_id(client, world):
    a = world.a
    created = (await gql_ok(client, a.keys["test"], CREATE, {"endpoint": a.orders, "data": ORDER}))["createRecord"]
    for body in await _assert_unreachable_by_id(client, world.b.keys["test"], created["id"]):
        assert all(created["id"] not in error["message"] for error in body["errors"])
