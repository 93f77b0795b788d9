"""Record operations: create, batch create (all or nothing), update (merge), delete, paging."""

from __future__ import annotations

import pytest

from server.models import Record
from tests.conftest import CREATE, CREATE_MANY, DELETE, GET, LIST, ORDER, UPDATE, error_codes, gql, gql_ok

FULL = {"customer": "Ada", "amount": 42.5, "note": "leave at the door"}
PAGE = "query($endpoint: ID!, $first: Int, $after: String) { records(endpoint: $endpoint, first: $first, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }"


def _error(response, code: str, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert error_codes(body) == [code], body
    return body["errors"][0]


async def _create(client, tenant, data=FULL, env="test") -> dict:
    return (await gql_ok(client, tenant.keys[env], CREATE, {"endpoint": tenant.orders, "data": data}))["createRecord"]


async def _data(record_id: str) -> dict:
    return (await Record.get(id=record_id)).data


# --- create ---------------------------------------------------------------------------------


async def test_create_returns_the_stored_record(client, world):
    a = world.a
    created = await _create(client, a)
    assert created["id"].startswith("rec_") and created["data"] == FULL
    assert created["partnerId"] == a.acme and created["environment"] == "TEST"
    stored = await Record.get(id=created["id"])
    assert stored.data == FULL and stored.environment == "test" and stored.endpoint_id == a.orders


async def test_create_drops_null_optional_fields(client, world):
    created = await _create(client, world.a, {**ORDER, "note": None})
    assert created["data"] == ORDER and await _data(created["id"]) == ORDER


async def test_record_ids_are_distinct_and_not_sequential(client, world):
    ids = [(await _create(client, world.a))["id"] for _ in range(5)]
    assert len(set(ids)) == 5 and all(i.startswith("rec_") and len(i) > 12 for i in ids)


async def test_create_many_returns_ids_in_input_order(client, world):
    a = world.a
    batch = [{"customer": f"c{i}", "amount": i} for i in range(5)]
    created = (await gql_ok(client, a.keys["test"], CREATE_MANY, {"endpoint": a.orders, "data": batch}))["createRecords"]
    assert [item["data"] for item in created] == batch
    assert [await _data(item["id"]) for item in created] == batch
    assert await Record.all().count() == 5


async def test_create_many_empty_batch_saves_nothing(client, world):
    a = world.a
    assert (await gql_ok(client, a.keys["test"], CREATE_MANY, {"endpoint": a.orders, "data": []}))["createRecords"] == []
    assert await Record.all().count() == 0


async def test_create_many_is_all_or_nothing(client, world):
    a = world.a
    batch = [ORDER, {"customer": "Bob", "amount": -1}, ORDER]
    error = _error(await gql(client, a.keys["test"], CREATE_MANY, {"endpoint": a.orders, "data": batch}), "VALIDATION_FAILED")
    assert list(error["extensions"]["fields"]) == ["data[1].amount"]
    assert await Record.all().count() == 0


async def test_create_many_reports_every_bad_record_at_once(client, world):
    a = world.a
    batch = [{"amount": 1}, ORDER, {"customer": "x", "amount": "lots", "extra": 1}]
    error = _error(await gql(client, a.keys["test"], CREATE_MANY, {"endpoint": a.orders, "data": batch}), "VALIDATION_FAILED")
    assert set(error["extensions"]["fields"]) == {"data[0].customer", "data[2].amount", "data[2].extra"}
    assert await Record.all().count() == 0


async def test_create_many_with_a_non_object_item_saves_nothing(client, world):
    a = world.a
    error = _error(await gql(client, a.keys["test"], CREATE_MANY, {"endpoint": a.orders, "data": [ORDER, "oops"]}), "VALIDATION_FAILED")
    assert any(name.startswith("data[1]") for name in error["extensions"]["fields"])
    assert await Record.all().count() == 0


async def test_create_many_accepts_exactly_1000(client, world):
    a = world.a
    batch = [{"customer": "c", "amount": i} for i in range(1000)]
    created = (await gql_ok(client, a.keys["test"], "mutation($e: ID!, $d: [JSON!]!) { createRecords(endpoint: $e, data: $d) { id } }", {"e": a.orders, "d": batch}))["createRecords"]
    assert len(created) == 1000 and await Record.all().count() == 1000


async def test_create_many_over_1000_is_payload_too_large_and_saves_nothing(client, world):
    a = world.a
    batch = [{"customer": "c", "amount": i} for i in range(1001)]
    _error(await gql(client, a.keys["test"], CREATE_MANY, {"endpoint": a.orders, "data": batch}), "PAYLOAD_TOO_LARGE", 413)
    assert await Record.all().count() == 0


# --- update ---------------------------------------------------------------------------------


async def _update(client, tenant, record_id: str, patch: dict):
    return await gql(client, tenant.keys["test"], UPDATE, {"id": record_id, "data": patch})


async def test_update_merges_and_keeps_other_fields(client, world):
    rid = (await _create(client, world.a))["id"]
    response = await _update(client, world.a, rid, {"amount": 7})
    assert response.json()["data"]["updateRecord"] == {"id": rid, "data": {**FULL, "amount": 7}}
    assert await _data(rid) == {**FULL, "amount": 7}


async def test_update_with_empty_patch_changes_nothing(client, world):
    rid = (await _create(client, world.a))["id"]
    assert (await _update(client, world.a, rid, {})).json()["data"]["updateRecord"]["data"] == FULL
    assert await _data(rid) == FULL


async def test_update_null_removes_an_optional_field(client, world):
    rid = (await _create(client, world.a))["id"]
    response = await _update(client, world.a, rid, {"note": None})
    assert response.json()["data"]["updateRecord"]["data"] == ORDER
    assert await _data(rid) == ORDER
    assert (await gql_ok(client, world.a.keys["test"], GET, {"id": rid}))["record"]["data"] == ORDER


@pytest.mark.parametrize("patch, field", [
    ({"customer": None}, "customer"),
    ({"amount": None, "note": "x"}, "amount"),
    ({"amount": -5}, "amount"),
    ({"amount": "ten"}, "amount"),
    ({"customer": "x" * 51}, "customer"),
    ({"colour": "red"}, "colour"),
])
async def test_update_result_is_validated_and_refusal_changes_nothing(client, world, patch, field):
    rid = (await _create(client, world.a))["id"]
    error = _error(await _update(client, world.a, rid, patch), "VALIDATION_FAILED")
    assert field in error["extensions"]["fields"]
    assert await _data(rid) == FULL


async def test_update_with_non_object_data_is_validation_failed(client, world):
    rid = (await _create(client, world.a))["id"]
    _error(await _update(client, world.a, rid, ["amount", 1]), "VALIDATION_FAILED")
    assert await _data(rid) == FULL


async def test_update_of_unknown_id_is_not_found(client, world):
    _error(await _update(client, world.a, "rec_doesnotexist00000000", {"amount": 1}), "NOT_FOUND")


# --- delete ---------------------------------------------------------------------------------


async def test_delete_returns_the_id_and_the_record_is_gone(client, world):
    a = world.a
    keep = (await _create(client, a))["id"]
    rid = (await _create(client, a))["id"]
    assert (await gql_ok(client, a.keys["test"], DELETE, {"id": rid}))["deleteRecord"] == rid
    assert not await Record.filter(id=rid).exists() and await Record.filter(id=keep).exists()
    assert (await gql(client, a.keys["test"], GET, {"id": rid})).json()["data"] == {"record": None}
    _error(await gql(client, a.keys["test"], GET, {"id": rid}), "NOT_FOUND")
    _error(await gql(client, a.keys["test"], DELETE, {"id": rid}), "NOT_FOUND")
    _error(await _update(client, a, rid, {"amount": 1}), "NOT_FOUND")
    edges = (await gql_ok(client, a.keys["test"], LIST, {"endpoint": a.orders}))["records"]["edges"]
    assert [edge["node"]["id"] for edge in edges] == [keep]


# --- paging ---------------------------------------------------------------------------------


async def _page(client, tenant, **variables) -> dict:
    return (await gql_ok(client, tenant.keys["test"], PAGE, {"endpoint": tenant.orders, **variables}))["records"]


async def test_paging_walks_newest_first_without_duplicates_or_gaps(client, world):
    a = world.a
    created = [(await _create(client, a, {"customer": f"c{i}", "amount": i}))["id"] for i in range(7)]
    seen, pages, after = [], [], None
    while True:
        page = await _page(client, a, first=3, after=after)
        pages.append(([edge["node"]["id"] for edge in page["edges"]], page["pageInfo"]["hasNextPage"]))
        seen += pages[-1][0]
        assert page["pageInfo"]["endCursor"] == (page["edges"][-1]["cursor"] if page["edges"] else None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert len(pages) < 10, pages
    assert [len(ids) for ids, _ in pages] == [3, 3, 1]
    assert [more for _, more in pages] == [True, True, False]
    assert seen == list(reversed(created))


async def test_every_edge_cursor_resumes_right_after_that_edge(client, world):
    a = world.a
    created = [(await _create(client, a))["id"] for _ in range(4)]
    edges = (await _page(client, a))["edges"]
    for position, edge in enumerate(edges):
        rest = await _page(client, a, after=edge["cursor"])
        assert [e["node"]["id"] for e in rest["edges"]] == list(reversed(created))[position + 1 :]


async def test_default_page_and_exact_fit_have_no_next_page(client, world):
    a = world.a
    for _ in range(3):
        await _create(client, a)
    assert (await _page(client, a))["pageInfo"]["hasNextPage"] is False
    exact = await _page(client, a, first=3)
    assert len(exact["edges"]) == 3 and exact["pageInfo"]["hasNextPage"] is False
    empty = await _page(client, a, first=0)
    assert empty["edges"] == [] and empty["pageInfo"]["hasNextPage"] is True


async def test_first_200_is_allowed(client, world):
    assert (await _page(client, world.a, first=200))["edges"] == []


@pytest.mark.parametrize("first", [201, 1000, -1])
async def test_first_out_of_range_is_validation_failed(client, world, first):
    a = world.a
    error = _error(await gql(client, a.keys["test"], PAGE, {"endpoint": a.orders, "first": first}), "VALIDATION_FAILED")
    assert "first" in error["extensions"]["fields"]


GARBAGE_CURSORS = {
    "word": "garbage",
    "empty": "",
    "not-base64": "!!!!",
    "base64-of-x12": "eDEy",
    "raw-r12": "r12",
    "base64-of-r": "cg",
    "base64-of-r-and-29-digits": "cjE5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5",  # beyond any 64-bit seq
    "valid-cursor-with-junk-appended": "cjEy!!",  # "cjEy" is the cursor of seq 12
}


@pytest.mark.parametrize("after", list(GARBAGE_CURSORS.values()), ids=list(GARBAGE_CURSORS))
async def test_garbage_cursor_is_validation_failed(client, world, after):
    a = world.a
    await _create(client, a)
    error = _error(await gql(client, a.keys["test"], PAGE, {"endpoint": a.orders, "after": after}), "VALIDATION_FAILED")
    assert "after" in error["extensions"]["fields"]


async def test_create_records_is_all_or_nothing_when_the_database_fails_mid_batch(client, world, monkeypatch):
    """A failure inside the write itself (here: a duplicate id at record 50 of 100) keeps none of them."""
    from server.models import Record
    from server.services import records as record_service

    made = iter(range(1000))
    monkeypatch.setattr(record_service, "record_id", lambda: f"rec_fixed{min(next(made), 49):04d}")
    batch = [{"customer": f"c{i}", "amount": i} for i in range(100)]
    response = await client.post(
        "/graphql",
        json={"query": CREATE_MANY, "variables": {"endpoint": world.a.orders, "data": batch}},
        headers={"Authorization": f"Bearer {world.a.keys['test']}"},
    )
    assert error_codes(response.json()) == ["INTERNAL_ERROR"]  # masked: the duplicate is our fault, not the partner's
    assert await Record.all().count() == 0
