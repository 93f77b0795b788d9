"""What fuzzing found, pinned down: over-long ids and far-future expiries are bad input, not crashes."""

from __future__ import annotations

from tests.conftest import error_codes, gql
from tests.people import gql_as, people_fixture  # noqa: F401  (registers the `people` fixture)

LONG_ID = "x" * 40


async def test_an_id_longer_than_any_id_is_refused_as_bad_input(client, world, people):
    as_key = (await gql(client, world.a.keys["test"], "query($id: ID!) { record(id: $id) { id } }", {"id": LONG_ID})).json()
    as_owner = (await gql_as(client, people.owner.token, "mutation($id: ID!) { deleteKey(id: $id) }", {"id": LONG_ID})).json()
    for body in (as_key, as_owner):
        assert error_codes(body) == ["VALIDATION_FAILED"] and "Unexpected" not in str(body)


async def test_an_expiry_beyond_a_century_is_refused_and_the_key_list_keeps_working(client, world, people):
    issue = """mutation($i: IssueKeyInput!) { issueKey(input: $i) { key { id } } }"""
    variables = {"i": {"workspace": world.a.workspace, "partner": world.a.acme, "endpoint": world.a.orders,
                       "environment": "TEST", "permissions": ["READ"], "expiresAt": "9999-12-31T23:59:59-05:00"}}
    body = (await gql_as(client, people.owner.token, issue, variables)).json()
    assert error_codes(body) == ["VALIDATION_FAILED"] and "expiresAt" in body["errors"][0]["extensions"]["fields"]
    listing = (await gql_as(client, people.owner.token, "query($w: ID!) { workspace(id: $w) { keys { id expiresAt } } }", {"w": world.a.workspace})).json()
    assert "errors" not in listing and len(listing["data"]["workspace"]["keys"]) == 2
