"""People read records of their workspaces, one environment at a time; keys keep to their own."""

from __future__ import annotations

import pytest

from server.models import Membership, User
from server.services import accounts
from server.services.audit import Actor
from tests.conftest import CREATE, ORDER, error_codes, gql_ok

LIST = "query($e: ID!, $env: Environment) { records(endpoint: $e, environment: $env) { edges { node { id data environment } } } }"
ONE = "query($id: ID!) { record(id: $id) { id data } }"


async def person(settings, workspace: str, role: str = "viewer") -> str:
    """A session token for a new member of `workspace`."""
    user = await User.create(email=f"{role}-{workspace}@example.com", name=role, password_hash="-")
    await Membership.create(workspace_id=workspace, user_id=user.id, role=role)
    return await accounts.start_session(user, settings, Actor(user.id))


async def as_person(client, token, query, variables):
    return await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Cookie": f"threemin_session={token}", "Sec-Fetch-Site": "same-origin"},
    )


async def test_a_viewer_reads_each_environment_separately(client, world, settings):
    a = world.a
    test_id = (await gql_ok(client, a.keys["test"], CREATE, {"endpoint": a.orders, "data": ORDER}))["createRecord"]["id"]
    live_id = (await gql_ok(client, a.keys["live"], CREATE, {"endpoint": a.orders, "data": ORDER | {"note": "live"}}))["createRecord"]["id"]
    token = await person(settings, a.workspace)
    for env, expected in (("TEST", test_id), ("LIVE", live_id)):
        body = (await as_person(client, token, LIST, {"e": a.orders, "env": env})).json()
        assert [edge["node"]["id"] for edge in body["data"]["records"]["edges"]] == [expected]
        assert body["data"]["records"]["edges"][0]["node"]["environment"] == env
    one = (await as_person(client, token, ONE, {"id": live_id})).json()
    assert one["data"]["record"]["data"] == ORDER | {"note": "live"}


async def test_a_person_must_choose_an_environment(client, world, settings):
    token = await person(settings, world.a.workspace)
    body = (await as_person(client, token, LIST, {"e": world.a.orders})).json()
    assert error_codes(body) == ["VALIDATION_FAILED"] and "environment" in body["errors"][0]["extensions"]["fields"]


async def test_another_workspace_reads_nothing(client, world, settings):
    a = world.a
    record = (await gql_ok(client, a.keys["test"], CREATE, {"endpoint": a.orders, "data": ORDER}))["createRecord"]["id"]
    outsider = await person(settings, world.b.workspace, "owner")
    listed = (await as_person(client, outsider, LIST, {"e": a.orders, "env": "TEST"})).json()
    missing = (await as_person(client, outsider, LIST, {"e": "ep_doesnotexist", "env": "TEST"})).json()
    assert error_codes(listed) == error_codes(missing) == ["NOT_FOUND"]
    assert listed["errors"][0]["message"] == missing["errors"][0]["message"]
    assert error_codes((await as_person(client, outsider, ONE, {"id": record})).json()) == ["NOT_FOUND"]


@pytest.mark.parametrize("env", ["LIVE", "TEST"])
async def test_a_key_naming_the_other_environment_finds_nothing(client, world, env):
    a = world.a
    other = "live" if env == "TEST" else "test"
    response = await client.post(
        "/graphql", json={"query": LIST, "variables": {"e": a.orders, "env": env}}, headers={"Authorization": f"Bearer {a.keys[other]}"}
    )
    assert error_codes(response.json()) == ["NOT_FOUND"]


async def test_people_cannot_write_records(client, world, settings):
    token = await person(settings, world.a.workspace, "owner")
    body = (await as_person(client, token, CREATE, {"endpoint": world.a.orders, "data": ORDER})).json()
    assert error_codes(body) == ["FORBIDDEN"]
