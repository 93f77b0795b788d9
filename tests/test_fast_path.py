"""The direct createRecord path (graphql/fast_path.py) answers exactly as graphql-core does.

Every request below is sent twice on the same database: once as served, once
with the direct path switched off. Status, body (ids and times aside) and the
records stored must be the same, refusals included; and the direct path must
really have answered the requests of its shape (and no others).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from server.graphql import fast_path
from server.models import Record
from tests.conftest import gql, issue

SHAPE = "mutation($e: ID!, $d: JSON!) { createRecord(endpoint: $e, data: $d) { id } }"
EVERY_PLAIN_FIELD = (
    "mutation Send($endpoint: ID!, $data: JSON!) { sent: createRecord(data: $data, endpoint: $endpoint) "
    "{ __typename id ref: id endpointId partnerId environment createdAt updatedAt } }"
)
BATCH = "mutation($e: ID!, $d: [JSON!]!) { createRecords(endpoint: $e, data: $d) { id __typename environment } }"
WITH_DATA = "mutation($e: ID!, $d: JSON!) { createRecord(endpoint: $e, data: $d) { id data } }"
ENDPOINT = "<the endpoint>"  # replaced by the test's endpoint id
LITERAL_ENDPOINT = 'mutation($d: JSON!) { createRecord(endpoint: "<the endpoint>", data: $d) { id } }'
GOOD = {"customer": "acme", "amount": 12.5}

# Ids and times differ between the two sends; everything else must not.
VOLATILE = re.compile(r'"(rec_[0-9A-Za-z]{20}|\d{4}-\d\d-\d\dT[0-9:.]+\+00:00)"')


def _normalized(text: str) -> str:
    return VOLATILE.sub('"…"', text)


@pytest.fixture
def direct_answers(monkeypatch) -> list[Any]:
    """What the direct path returned for each request it saw (None: it handed the request on)."""
    seen: list[Any] = []
    original = fast_path.run

    async def spying(*args, **kwargs):
        result = await original(*args, **kwargs)
        seen.append(result)
        return result

    monkeypatch.setattr(fast_path, "run", spying)
    return seen


async def _both_ways(app, client, key: str, query: str, variables: dict[str, Any], direct_answers: list[Any]) -> tuple[bool, dict[str, Any]]:
    """Send twice (direct path on, then off); assert equal answers and effects. Returns (answered directly, the answer)."""
    executor = app.state.schema.executor
    before = await Record.all().count()
    served = await gql(client, key, query, variables)
    stored_served = await Record.all().count() - before
    answered_directly = any(result is not None for result in direct_answers)
    direct_answers.clear()

    fast, executor.fast = executor.fast, None
    executor.prepare.cache_clear()
    try:
        general = await gql(client, key, query, variables)
    finally:
        executor.fast = fast
        executor.prepare.cache_clear()
    stored_general = await Record.all().count() - before - stored_served
    assert not direct_answers  # switched off means off

    assert served.status_code == general.status_code
    assert _normalized(served.text) == _normalized(general.text)
    assert stored_served == stored_general
    return answered_directly, served.json()


async def test_a_plain_create_is_answered_directly_and_the_same(app, client, world, direct_answers):
    direct, answer = await _both_ways(app, client, world.a.keys["test"], SHAPE, {"e": world.a.orders, "d": GOOD}, direct_answers)
    assert direct and "errors" not in answer


async def test_every_plain_field_aliases_and_an_operation_name_are_answered_directly_and_the_same(app, client, world, direct_answers):
    variables = {"endpoint": world.a.orders, "data": GOOD}
    direct, answer = await _both_ways(app, client, world.a.keys["live"], EVERY_PLAIN_FIELD, variables, direct_answers)
    assert direct and "errors" not in answer
    assert answer["data"]["sent"]["__typename"] == "Record" and answer["data"]["sent"]["environment"] == "LIVE"


@pytest.mark.parametrize(
    "case",
    ["invalid data", "oversized", "other workspace's endpoint", "unknown endpoint", "no CREATE", "field not writable", "archived key"],
)
async def test_refusals_are_answered_directly_and_the_same(app, client, world, direct_answers, case):
    key, endpoint, data = world.a.keys["test"], world.a.orders, dict(GOOD)
    if case == "invalid data":
        data = {"customer": 3, "amount": "lots"}
    elif case == "oversized":
        data = {"customer": "x" * 70_000, "amount": 1}
    elif case == "other workspace's endpoint":
        endpoint = world.b.orders
    elif case == "unknown endpoint":
        endpoint = "ep_doesnotexist000000000"
    elif case == "no CREATE":
        key = await issue(world.a, permissions=["READ"])
    elif case == "field not writable":
        key = await issue(world.a, writable_fields=["customer", "note"])
    elif case == "archived key":
        from server.models import ApiKey
        from tests.conftest import key_id

        key = await issue(world.a)
        await ApiKey.filter(id=await key_id(key)).update(active=False)
    direct, answer = await _both_ways(app, client, key, SHAPE, {"e": endpoint, "d": data}, direct_answers)
    assert answer["errors"] and "data" not in answer or answer["data"] is None
    # A refused key never reaches execution; every other refusal is the direct path's.
    assert direct is (case != "archived key")


OTHER_SHAPES = [
    (WITH_DATA, {"e": ENDPOINT, "d": GOOD}, "data has a permission check and a resolver"),
    (SHAPE, {"e": 12345, "d": GOOD}, "an id sent as a number is coerced by graphql-core"),
    (SHAPE, {"d": GOOD}, "a missing variable is graphql-core's error"),
    (SHAPE, {"e": None, "d": GOOD}, "a null for a non-null variable is graphql-core's error"),
    (SHAPE, {"e": ENDPOINT, "d": None}, "a null data is graphql-core's error"),
    (LITERAL_ENDPOINT, {"d": GOOD}, "literal arguments"),
    ("mutation($e: ID!, $d: JSON!) { createRecord(endpoint: $e, data: $d) { id @skip(if: false) } }", {"e": ENDPOINT, "d": GOOD}, "directives"),
    ("mutation($e: ID!, $d: JSON!) { createRecord(endpoint: $e, data: $d) { ...F } } fragment F on Record { id }", {"e": ENDPOINT, "d": GOOD}, "fragments"),
    ("mutation($e: ID!, $d: JSON!) { a: createRecord(endpoint: $e, data: $d) { id } b: createRecord(endpoint: $e, data: $d) { id } }", {"e": ENDPOINT, "d": GOOD}, "two root fields"),
    ("mutation($e: ID!, $d: JSON! = {}) { createRecord(endpoint: $e, data: $d) { id } }", {"e": ENDPOINT, "d": GOOD}, "a default value"),
    ("mutation($e: ID!, $d: JSON!) { createRecord(endpoint: $e, data: $d) { id nope } }", {"e": ENDPOINT, "d": GOOD}, "an invalid document"),
]


@pytest.mark.parametrize("query, variables, why", OTHER_SHAPES, ids=[why for _, _, why in OTHER_SHAPES])
async def test_other_shapes_go_through_graphql_core_and_are_answered_the_same(app, client, world, direct_answers, query, variables, why):
    query = query.replace(ENDPOINT, world.a.orders)
    variables = {name: world.a.orders if value == ENDPOINT else value for name, value in variables.items()}
    direct, _ = await _both_ways(app, client, world.a.keys["test"], query, variables, direct_answers)
    assert not direct, why


async def test_an_operation_name_that_names_no_operation_is_a_bad_request(app, client, world, direct_answers):
    body = {"query": SHAPE.replace("mutation(", "mutation Send("), "variables": {"e": world.a.orders, "d": GOOD}, "operationName": "Other"}
    response = await client.post("/graphql", json=body, headers={"Authorization": f"Bearer {world.a.keys['test']}"})
    assert response.status_code == 400, response.text  # was a 500 before this test
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST" and "Other" in response.json()["errors"][0]["message"]
    assert not direct_answers
    assert await Record.all().count() == 0



@pytest.mark.parametrize("query", ["mutation { __typename }", "mutation { createRecord }", "{ viewer { kind } }"])
async def test_documents_without_variables_or_arguments_are_not_the_direct_path(app, query):
    """The shape test reads parts graphql-core leaves None when absent."""
    prepared = app.state.schema.executor.prepare(query)
    assert prepared.plan is None


@pytest.mark.parametrize(
    "data, succeeds",
    [
        ([GOOD, {"customer": "b", "amount": 2}], True),
        ([], True),
        ([GOOD, {"customer": 3}], False),  # one record does not fit: nothing is saved
        ([GOOD] * 1001, False),  # more than a batch may hold
    ],
    ids=["two records", "none", "one invalid", "too many"],
)
async def test_a_batch_is_answered_directly_and_the_same(app, client, world, direct_answers, data, succeeds):
    direct, answer = await _both_ways(app, client, world.a.keys["test"], BATCH, {"e": world.a.orders, "d": data}, direct_answers)
    assert direct
    assert ("errors" not in answer) is succeeds
    if succeeds:
        assert len(answer["data"]["createRecords"]) == len(data)


@pytest.mark.parametrize(
    "data, why",
    [(GOOD, "a single value is coerced into a list by graphql-core"), ([GOOD, None], "a null item is graphql-core's error")],
    ids=["single value", "null item"],
)
async def test_batch_values_that_need_coercion_go_through_graphql_core(app, client, world, direct_answers, data, why):
    direct, _ = await _both_ways(app, client, world.a.keys["test"], BATCH, {"e": world.a.orders, "d": data}, direct_answers)
    assert not direct, why


def test_a_guard_added_to_a_direct_root_field_stops_the_schema_from_building(monkeypatch):
    """The direct path calls the resolver's function itself: a permission class there would be skipped."""
    from strawberry.permission import BasePermission

    from server.graphql.schema import Mutation, build_schema
    from server.settings import Settings

    class Never(BasePermission):
        message = "no"

        def has_permission(self, source, info, **kwargs) -> bool:
            return False

    field = next(f for f in Mutation.__strawberry_definition__.fields if f.python_name == "create_records")
    monkeypatch.setattr(field, "permission_classes", [Never])
    with pytest.raises(RuntimeError, match="create_records"):
        build_schema(Settings())


async def test_a_document_with_no_operation_is_a_bad_request_that_says_so(client, world):
    body = {"query": "fragment F on Record { id }"}
    response = await client.post("/graphql", json=body, headers={"Authorization": f"Bearer {world.a.keys['test']}"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "The document has no operation."
