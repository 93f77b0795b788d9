"""The README's first three minutes: create a record with a test key, read it back."""

from tests.conftest import CREATE, GET, LIST, ORDER, gql_ok


async def test_create_then_read_back(client, world):
    a = world.a
    created = (await gql_ok(client, a.keys["test"], CREATE, {"endpoint": a.orders, "data": ORDER}))["createRecord"]
    assert created["id"].startswith("rec_") and created["environment"] == "TEST"
    assert created["data"] == ORDER and created["partnerId"] == a.acme

    page = (await gql_ok(client, a.keys["test"], LIST, {"endpoint": a.orders}))["records"]
    assert [edge["node"]["id"] for edge in page["edges"]] == [created["id"]]
    one = (await gql_ok(client, a.keys["test"], GET, {"id": created["id"]}))["record"]
    assert one == {"id": created["id"], "data": ORDER}
