"""Permissions of a key: operations (CRUD), fields (readable / writable) and row scope.

DESIGN.md, Authorization: CREATE -> createRecord(s); READ -> records / record /
Record.data; UPDATE -> updateRecord; DELETE -> deleteRecord. A missing
operation is FORBIDDEN as a field error with HTTP 200 and changes nothing.
"""

from __future__ import annotations

import itertools

import pytest

from server.errors import ValidationFailed
from server.models import ApiKey, Record
from server.services.keys import KeyGrant
from tests.conftest import ALL, CREATE, CREATE_MANY, GET, LIST, ORDER, UPDATE, DELETE, error_codes, gql, gql_ok, issue, key_id

SUBSETS = [list(s) for n in range(len(ALL) + 1) for s in itertools.combinations(ALL, n)]
assert len(SUBSETS) == 16

OPERATIONS = {
    # name: (needed permission, a document that does not select `data`)
    "createRecord": ("create", "mutation($e: ID!, $d: JSON!) { createRecord(endpoint: $e, data: $d) { id } }"),
    "createRecords": ("create", "mutation($e: ID!, $ds: [JSON!]!) { createRecords(endpoint: $e, data: $ds) { id } }"),
    "records": ("read", "query($e: ID!) { records(endpoint: $e) { edges { node { id } } } }"),
    "record": ("read", "query($id: ID!) { record(id: $id) { id } }"),
    "updateRecord": ("update", "mutation($id: ID!, $d: JSON!) { updateRecord(id: $id, data: $d) { id } }"),
    "deleteRecord": ("delete", "mutation($id: ID!) { deleteRecord(id: $id) }"),
}
CHANGE = {"customer": "Changed", "amount": 1}


async def _key_with(tenant, permissions: list[str], **grant) -> str:
    """A key with exactly these permissions; the empty set cannot be issued, so it is set in the DB."""
    if permissions:
        return await issue(tenant, permissions=permissions, **grant)
    key = await issue(tenant, permissions=["read"], **grant)
    assert await ApiKey.filter(id=await key_id(key)).update(permissions=[]) == 1
    return key


async def _snapshot() -> list[tuple[str, dict]]:
    return sorted((r.id, r.data) for r in await Record.all())


def _assert_forbidden(response, field: str) -> None:
    assert response.status_code == 200, response.text
    body = response.json()
    assert error_codes(body) == ["FORBIDDEN"], body
    assert body["errors"][0]["path"] == [field], body
    assert body["data"] is None or body["data"] == {field: None}, body


@pytest.mark.parametrize("operation", list(OPERATIONS))
@pytest.mark.parametrize("permissions", SUBSETS, ids=lambda s: "+".join(s) or "none")
async def test_each_operation_for_each_permission_subset(client, world, permissions, operation):
    a = world.a
    seeded = (await gql_ok(client, a.keys["test"], CREATE, {"endpoint": a.orders, "data": ORDER}))["createRecord"]["id"]
    key = await _key_with(a, permissions)
    needed, document = OPERATIONS[operation]
    variables = {"e": a.orders, "id": seeded, "d": CHANGE, "ds": [CHANGE, ORDER]}
    before = await _snapshot()

    response = await gql(client, key, document, variables)

    if needed not in permissions:
        _assert_forbidden(response, operation)
        assert await _snapshot() == before
        return
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    result = body["data"][operation]
    if operation == "createRecord":
        assert await Record.filter(id=result["id"], data=CHANGE).exists()
        assert await Record.all().count() == 2
    elif operation == "createRecords":
        assert len(result) == 2 and await Record.all().count() == 3
    elif operation == "records":
        assert [edge["node"]["id"] for edge in result["edges"]] == [seeded]
    elif operation == "record":
        assert result == {"id": seeded}
    elif operation == "updateRecord":
        assert result == {"id": seeded}
        assert (await Record.get(id=seeded)).data == CHANGE
    else:
        assert result == seeded
        assert not await Record.filter(id=seeded).exists()
    if operation in ("records", "record"):
        assert await _snapshot() == before


def test_a_key_with_no_permission_cannot_be_issued():
    with pytest.raises(ValidationFailed) as caught:
        KeyGrant.parse([])
    assert "permissions" in caught.value.extensions["fields"]


# --- field-level authorization -----------------------------------------------------------


async def test_create_only_key_reads_back_id_but_data_is_a_forbidden_field_error(client, world):
    a = world.a
    key = await issue(a, permissions=["create"])
    response = await gql(client, key, "mutation($e: ID!, $d: JSON!) { createRecord(endpoint: $e, data: $d) { id createdAt data } }", {"e": a.orders, "d": ORDER})
    assert response.status_code == 200, response.text
    body = response.json()
    created = body["data"]["createRecord"]
    assert created["id"].startswith("rec_") and created["createdAt"] and created["data"] is None
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["path"] == ["createRecord", "data"]
    assert (await Record.get(id=created["id"])).data == ORDER


async def test_create_only_key_batch_data_errors_per_item_and_records_saved(client, world):
    a = world.a
    key = await issue(a, permissions=["create"])
    response = await gql(client, key, CREATE_MANY, {"endpoint": a.orders, "data": [ORDER, ORDER]})
    body = response.json()
    assert response.status_code == 200
    assert [item["data"] for item in body["data"]["createRecords"]] == [None, None]
    assert sorted(e["path"] for e in body["errors"]) == [["createRecords", 0, "data"], ["createRecords", 1, "data"]]
    assert set(error_codes(body)) == {"FORBIDDEN"}
    assert await Record.all().count() == 2


FULL = {"customer": "Ada", "amount": 42.5, "note": "secret note"}


@pytest.mark.parametrize("document, pick", [
    (GET, lambda data, rid: data["record"]["data"]),
    (LIST, lambda data, rid: data["records"]["edges"][0]["node"]["data"]),
    (UPDATE, lambda data, rid: data["updateRecord"]["data"]),
])
async def test_readable_fields_filter_data_on_read(client, world, document, pick):
    a = world.a
    rid = (await gql_ok(client, a.keys["test"], CREATE, {"endpoint": a.orders, "data": FULL}))["createRecord"]["id"]
    key = await issue(a, readable_fields=["customer", "amount"])
    data = await gql_ok(client, key, document, {"endpoint": a.orders, "id": rid, "data": {"amount": 1}})
    assert set(pick(data, rid)) <= {"customer", "amount"} and "note" not in pick(data, rid)
    assert pick(data, rid)["customer"] == "Ada"


async def test_readable_fields_filter_data_returned_by_create(client, world):
    a = world.a
    key = await issue(a, readable_fields=["amount"])
    created = (await gql_ok(client, key, CREATE, {"endpoint": a.orders, "data": FULL}))["createRecord"]
    assert created["data"] == {"amount": 42.5}
    assert (await Record.get(id=created["id"])).data == FULL


async def test_writable_fields_refuse_other_fields_on_create_and_save_nothing(client, world):
    a = world.a
    key = await issue(a, writable_fields=["customer", "amount"])
    await gql_ok(client, key, CREATE, {"endpoint": a.orders, "data": ORDER})
    response = await gql(client, key, CREATE, {"endpoint": a.orders, "data": FULL})
    body = response.json()
    assert response.status_code == 200 and body["data"] is None
    assert error_codes(body) == ["FIELD_NOT_ALLOWED"]
    assert list(body["errors"][0]["extensions"]["fields"]) == ["note"]
    assert await Record.all().count() == 1


async def test_writable_fields_refuse_in_a_batch_and_save_nothing(client, world):
    a = world.a
    key = await issue(a, writable_fields=["customer", "amount"])
    response = await gql(client, key, CREATE_MANY, {"endpoint": a.orders, "data": [ORDER, FULL]})
    assert error_codes(response.json()) == ["FIELD_NOT_ALLOWED"], response.json()
    assert await Record.all().count() == 0


async def test_update_respects_writable_fields(client, world):
    a = world.a
    rid = (await gql_ok(client, a.keys["test"], CREATE, {"endpoint": a.orders, "data": FULL}))["createRecord"]["id"]
    key = await issue(a, writable_fields=["amount"])
    for patch in ({"note": "changed"}, {"note": None}, {"amount": 2, "customer": "Eve"}):
        response = await gql(client, key, UPDATE, {"id": rid, "data": patch})
        body = response.json()
        assert response.status_code == 200 and error_codes(body) == ["FIELD_NOT_ALLOWED"], body
        assert set(body["errors"][0]["extensions"]["fields"]) == set(patch) - {"amount"}
        assert (await Record.get(id=rid)).data == FULL
    updated = (await gql_ok(client, key, UPDATE, {"id": rid, "data": {"amount": 3}}))["updateRecord"]
    assert updated["data"] == {**FULL, "amount": 3}
    assert (await Record.get(id=rid)).data == {**FULL, "amount": 3}


# --- row scope --------------------------------------------------------------------------


async def test_own_row_scope_sees_and_touches_only_its_partners_records(client, world):
    a = world.a
    acme_record = (await gql_ok(client, a.keys["test"], CREATE, {"endpoint": a.orders, "data": ORDER}))["createRecord"]
    own = await issue(a, partner=a.globex, row_scope="own")
    mine = (await gql_ok(client, own, CREATE, {"endpoint": a.orders, "data": FULL}))["createRecord"]
    assert mine["partnerId"] == a.globex

    listed = (await gql_ok(client, own, LIST, {"endpoint": a.orders}))["records"]["edges"]
    assert [edge["node"]["id"] for edge in listed] == [mine["id"]]
    for document, variables in ((GET, {"id": acme_record["id"]}), (UPDATE, {"id": acme_record["id"], "data": {"amount": 1}}), (DELETE, {"id": acme_record["id"]})):
        response = await gql(client, own, document, variables)
        assert response.status_code == 200 and error_codes(response.json()) == ["NOT_FOUND"], response.json()
    assert (await Record.get(id=acme_record["id"])).data == ORDER

    # Its own record stays fully reachable; an ALL-scope key sees both.
    assert (await gql_ok(client, own, GET, {"id": mine["id"]}))["record"]["data"] == FULL
    everyone = (await gql_ok(client, a.keys["test"], LIST, {"endpoint": a.orders}))["records"]["edges"]
    assert {edge["node"]["id"] for edge in everyone} == {mine["id"], acme_record["id"]}
