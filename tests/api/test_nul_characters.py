"""U+0000 anywhere in a request is bad input on every engine (PostgreSQL cannot store it).

Found by schemathesis on PostgreSQL: a NUL inside an id reached the database
and came back as INTERNAL_ERROR. Now it is refused before execution, the same
way on SQLite, in variables and in the query text alike, and nothing is stored.
"""

from __future__ import annotations

from server.models import Record
from tests.conftest import CREATE, CREATE_MANY, error_codes, gql


async def test_a_nul_in_variables_is_refused_and_nothing_is_stored(client, world):
    before = await Record.all().count()
    one = await gql(client, world.a.keys["test"], CREATE, {"endpoint": world.a.orders, "data": {"customer": "A\u0000da", "amount": 1}})
    many = await gql(client, world.a.keys["test"], CREATE_MANY, {"endpoint": world.a.orders, "data": [{"customer": "ok", "amount": 1}, {"customer": "bad", "amount": 1, "\u0000": 1}]})
    for response in (one, many):
        body = response.json()
        assert error_codes(body) == ["VALIDATION_FAILED"] and "data" not in body and "U+0000" in body["errors"][0]["message"]
    assert await Record.all().count() == before


async def test_a_nul_in_the_query_text_is_refused_too(client, world):
    literal = 'mutation { createRecord(endpoint: "%s", data: {customer: "A\\u0000da", amount: 1}) { id } }' % world.a.orders
    guessed_id = '{ record(id: "rec_\\u0000") { id } }'
    for query in (literal, guessed_id):
        body = (await gql(client, world.a.keys["test"], query)).json()
        assert error_codes(body) == ["VALIDATION_FAILED"] and "data" not in body
    # The same request without the NUL goes through.
    body = (await gql(client, world.a.keys["test"], literal.replace("\\u0000", ""))).json()
    assert body["data"]["createRecord"]["id"].startswith("rec_")
