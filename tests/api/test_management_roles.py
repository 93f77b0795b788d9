"""Who may use each management operation (issue 3, "What must work" 2 and "Bad input").

Viewers read everything and change nothing; admins also manage keys and
partners; owners also endpoints and members. A collaboration key may use none
of it (FORBIDDEN); a member of another workspace sees NOT_FOUND, with the very
body a made-up id gets; no credentials is 401. A refusal changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.keys import Environment
from server.models import ApiKey, Session
from server.policy import OPERATOR
from server.services import keys as key_service
from server.services.audit import CLI
from server.services.keys import Handover, KeyGrant
from server.settings import Settings
from tests.conftest import SECRET, error_codes, gql, key_id
from tests.people import gql_as, people_fixture, session_headers, snapshot  # noqa: F401  (the fixture `people`)

RANK = {"viewer": 0, "admin": 1, "owner": 2}
PRINCIPALS = ["owner", "admin", "viewer", "owner_b", "key", "none"]


@dataclass
class Ctx:
    world: Any
    people: Any
    ids: dict[str, str]


@dataclass(frozen=True)
class Op:
    field: str
    need: str  # the lowest role allowed
    query: str
    variables: Callable[[Ctx], dict[str, Any]]
    fake: dict[str, str]  # variables to replace with made-up ids for the NOT_FOUND comparison
    prepare: Callable[[Ctx], Awaitable[None]] | None = None

    @property
    def mutation(self) -> bool:
        return self.query.lstrip().startswith("mutation")


async def _deactivate_target(ctx: Ctx) -> None:
    await ApiKey.filter(id=ctx.ids["key"]).update(active=False)


async def _unclaimed_key(ctx: Ctx) -> None:
    a = ctx.world.a
    issued = await key_service.issue_key(
        OPERATOR, a.workspace, a.acme, a.orders, Environment.TEST, KeyGrant.parse(["read"]), Handover.CLAIM, Settings(secret_key=SECRET), CLI
    )
    ctx.ids["key"] = issued.key.id


def _ws(ctx: Ctx) -> dict[str, Any]:
    return {"ws": ctx.world.a.workspace}


def _key(ctx: Ctx) -> dict[str, Any]:
    return {"id": ctx.ids["key"]}


WS_READ = "query($ws: ID!) {{ workspace(id: $ws) {{ {} }} }}"
OPS = [
    Op("createEndpoint", "owner", 'mutation($ws: ID!) { createEndpoint(workspace: $ws, name: "invoices", fields: [{name: "total", type: NUMBER}]) { id } }', _ws, {"ws": "ws_madeup"}),
    Op("updateEndpoint", "owner", 'mutation($id: ID!) { updateEndpoint(id: $id, name: "orders-renamed") { id name } }', lambda c: {"id": c.world.a.orders}, {"id": "ep_madeup"}),
    Op("archiveEndpoint", "owner", "mutation($id: ID!) { archiveEndpoint(id: $id) { id archivedAt } }", lambda c: {"id": c.world.a.leads}, {"id": "ep_madeup"}),
    Op("createPartner", "admin", 'mutation($ws: ID!) { createPartner(workspace: $ws, name: "Initech") { id } }', _ws, {"ws": "ws_madeup"}),
    Op("updatePartner", "admin", 'mutation($id: ID!) { updatePartner(id: $id, name: "Globex AG") { id name } }', lambda c: {"id": c.world.a.globex}, {"id": "pt_madeup"}),
    Op("archivePartner", "admin", "mutation($id: ID!) { archivePartner(id: $id) { id archivedAt } }", lambda c: {"id": c.world.a.globex}, {"id": "pt_madeup"}),
    Op(
        "issueKey", "admin",
        "mutation($ws: ID!, $p: ID!, $e: ID!) { issueKey(input: {workspace: $ws, partner: $p, endpoint: $e, environment: TEST, permissions: [READ]}) { key { id } secret } }",
        lambda c: {"ws": c.world.a.workspace, "p": c.world.a.acme, "e": c.world.a.orders}, {"ws": "ws_madeup"},
    ),
    Op("deactivateKey", "admin", "mutation($id: ID!) { deactivateKey(id: $id) { id status } }", _key, {"id": "key_madeup"}),
    Op("reactivateKey", "admin", "mutation($id: ID!) { reactivateKey(id: $id) { id status } }", _key, {"id": "key_madeup"}, _deactivate_target),
    Op("rollKey", "admin", "mutation($id: ID!) { rollKey(id: $id, grace: NONE) { secret } }", _key, {"id": "key_madeup"}),
    Op("deleteKey", "admin", "mutation($id: ID!) { deleteKey(id: $id) }", _key, {"id": "key_madeup"}),
    Op("setKeyPermissions", "admin", "mutation($id: ID!) { setKeyPermissions(id: $id, input: {permissions: [READ]}) { permissions } }", _key, {"id": "key_madeup"}),
    Op("createClaimLink", "admin", "mutation($id: ID!) { createClaimLink(id: $id) { claimUrl } }", _key, {"id": "key_madeup"}, _unclaimed_key),
    Op("inviteMember", "owner", 'mutation($ws: ID!) { inviteMember(workspace: $ws, email: "new@alpha.example", role: VIEWER) { url } }', _ws, {"ws": "ws_madeup"}),
    Op(
        "changeMemberRole", "owner", "mutation($ws: ID!, $u: ID!) { changeMemberRole(workspace: $ws, user: $u, role: ADMIN) { role } }",
        lambda c: {"ws": c.world.a.workspace, "u": c.people.bystander.user_id}, {"ws": "ws_madeup"},
    ),
    Op(
        "removeMember", "owner", "mutation($ws: ID!, $u: ID!) { removeMember(workspace: $ws, user: $u) }",
        lambda c: {"ws": c.world.a.workspace, "u": c.people.bystander.user_id}, {"ws": "ws_madeup"},
    ),
    *[Op("workspace", "viewer", WS_READ.format(sel), _ws, {"ws": "ws_madeup"}) for sel in (
        "endpoints { id }", "partners { id }", "keys { id }", "members { role }", "auditEvents { edges { node { action } } }"
    )],
    Op("key", "viewer", "query($id: ID!) { key(id: $id) { id status } }", _key, {"id": "key_madeup"}),
]
OP_IDS = [op.field if op.field != "workspace" else "workspace." + op.query.split("{")[2].split()[-1] for op in OPS]


def expected(principal: str, need: str) -> str | None:
    if principal == "none":
        return "UNAUTHENTICATED"
    if principal == "key":
        return "FORBIDDEN"
    if principal == "owner_b":
        return "NOT_FOUND"
    return None if RANK[principal] >= RANK[need] else "FORBIDDEN"


async def _ctx(world, people) -> Ctx:
    return Ctx(world, people, {"key": await key_id(world.a.keys["test"])})


async def send(client, ctx: Ctx, principal: str, op: Op, variables: dict[str, Any]):
    if principal == "key":  # a live key of A, so the target (A's test key) is another key
        return await gql(client, ctx.world.a.keys["live"], op.query, variables)
    token = None if principal == "none" else getattr(ctx.people, principal).token
    return await gql_as(client, token, op.query, variables)


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
async def test_each_operation_for_each_principal(client, world, people, op: Op, principal: str):
    ctx = await _ctx(world, people)
    if op.prepare:
        await op.prepare(ctx)
    before = await snapshot()
    response = await send(client, ctx, principal, op, op.variables(ctx))
    body = response.json()
    want = expected(principal, op.need)
    after = await snapshot()

    if want is None:
        assert response.status_code == 200 and "errors" not in body, body
        assert body["data"][op.field], body
        if op.mutation:
            assert after["AuditEvent"] != before["AuditEvent"], "an allowed change writes an audit event"
        else:
            assert after == before
        return
    assert error_codes(body) == [want], body
    if want == "UNAUTHENTICATED":
        assert response.status_code == 401 and "data" not in body, body
    else:
        assert response.status_code == 200 and body["data"] is None, body
        assert body["errors"][0]["path"] == [op.field], body
    assert after == before, f"{op.field} refused for {principal} but the database changed"


@pytest.mark.parametrize("op", OPS, ids=OP_IDS)
async def test_another_workspace_gets_the_body_of_a_made_up_id(client, world, people, op: Op):
    """B's owner learns nothing: A's real object and an id that never existed answer alike."""
    ctx = await _ctx(world, people)
    if op.prepare:
        await op.prepare(ctx)
    real = await send(client, ctx, "owner_b", op, op.variables(ctx))
    made_up = await send(client, ctx, "owner_b", op, op.variables(ctx) | op.fake)
    assert real.status_code == made_up.status_code == 200
    assert real.json() == made_up.json()
    assert error_codes(real.json()) == ["NOT_FOUND"]


async def _session_row(people) -> Session:
    return await Session.get(user_id=people.owner.user_id)


async def _end(people) -> str:
    await (await _session_row(people)).delete()
    return people.owner.token


async def _expire(people) -> str:
    await Session.filter(user_id=people.owner.user_id).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    return people.owner.token


async def _idle(people) -> str:
    await Session.filter(user_id=people.owner.user_id).update(last_seen_at=datetime.now(UTC) - timedelta(days=2))
    return people.owner.token


async def _forged(people) -> str:
    return "forged" + people.owner.token[6:]


CREATE_PARTNER = 'mutation($ws: ID!) { createPartner(workspace: $ws, name: "Initech") { id } }'


@pytest.mark.parametrize("spoil", [_forged, _end, _expire, _idle], ids=["forged", "signed-out", "expired", "idle"])
async def test_stale_or_forged_session_is_unauthenticated(client, world, people, spoil):
    token = await spoil(people)
    before = await snapshot()
    response = await gql_as(client, token, CREATE_PARTNER, {"ws": world.a.workspace})
    assert response.status_code == 401, response.text
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]
    assert "data" not in response.json()
    after = await snapshot()
    after.pop("Session"), before.pop("Session")  # an expired session may be cleaned up
    assert after == before


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Sec-Fetch-Site": "", "Origin": "https://evil.example"},
    ],
    ids=["cross-site", "same-site", "foreign-origin"],
)
async def test_cross_site_cookie_post_is_refused(client, world, people, headers):
    sent = {k: v for k, v in (session_headers(people.owner.token) | headers).items() if v}
    before = await snapshot()
    response = await client.post("/graphql", json={"query": CREATE_PARTNER, "variables": {"ws": world.a.workspace}}, headers=sent)
    assert response.status_code == 403, response.text
    assert "data" not in response.json()
    assert await snapshot() == before


async def test_same_origin_by_origin_header_is_accepted(client, world, people):
    """Without Fetch-Metadata the Origin must match: the same request then works."""
    sent = {"Cookie": f"threemin_session={people.owner.token}", "Origin": "http://testserver"}
    response = await client.post("/graphql", json={"query": CREATE_PARTNER, "variables": {"ws": world.a.workspace}}, headers=sent)
    assert response.status_code == 200 and "errors" not in response.json(), response.text


async def test_removed_member_loses_access_at_once(client, world, people):
    remove = "mutation($ws: ID!, $u: ID!) { removeMember(workspace: $ws, user: $u) }"
    response = await gql_as(client, people.owner.token, remove, {"ws": world.a.workspace, "u": people.admin.user_id})
    assert "errors" not in response.json(), response.text
    after = await gql_as(client, people.admin.token, CREATE_PARTNER, {"ws": world.a.workspace})
    assert after.status_code == 401 and error_codes(after.json()) == ["UNAUTHENTICATED"]


async def test_a_new_role_applies_on_the_next_request(client, world, people):
    role = "mutation($ws: ID!, $u: ID!, $r: Role!) { changeMemberRole(workspace: $ws, user: $u, role: $r) { role } }"
    await gql_as(client, people.owner.token, role, {"ws": world.a.workspace, "u": people.admin.user_id, "r": "VIEWER"})
    refused = (await gql_as(client, people.admin.token, CREATE_PARTNER, {"ws": world.a.workspace})).json()
    assert error_codes(refused) == ["FORBIDDEN"]
    await gql_as(client, people.owner.token, role, {"ws": world.a.workspace, "u": people.viewer.user_id, "r": "OWNER"})
    promoted = (await gql_as(client, people.viewer.token, "mutation($id: ID!) { archiveEndpoint(id: $id) { id } }", {"id": world.a.leads})).json()
    assert "errors" not in promoted, promoted


@pytest.mark.parametrize(("partner", "endpoint"), [("b", "a"), ("a", "b")], ids=["partner-of-b", "endpoint-of-b"])
async def test_a_key_cannot_join_objects_of_another_workspace(client, world, people, partner, endpoint):
    issue = "mutation($ws: ID!, $p: ID!, $e: ID!) { issueKey(input: {workspace: $ws, partner: $p, endpoint: $e, environment: TEST, permissions: [READ]}) { key { id } } }"
    variables = {"ws": world.a.workspace, "p": getattr(world, partner).acme, "e": getattr(world, endpoint).orders}
    before = await snapshot()
    body = (await gql_as(client, people.admin.token, issue, variables)).json()
    assert error_codes(body) == ["NOT_FOUND"], body
    assert await snapshot() == before


LAST_OWNER = [
    ("mutation($ws: ID!, $u: ID!) { changeMemberRole(workspace: $ws, user: $u, role: ADMIN) { role } }", "role"),
    ("mutation($ws: ID!, $u: ID!) { removeMember(workspace: $ws, user: $u) }", "user"),
]


@pytest.mark.parametrize(("query", "field"), LAST_OWNER, ids=["demote", "remove"])
async def test_a_workspace_keeps_its_last_owner(client, world, people, query, field):
    before = await snapshot()
    body = (await gql_as(client, people.owner.token, query, {"ws": world.a.workspace, "u": people.owner.user_id})).json()
    assert error_codes(body) == ["VALIDATION_FAILED"] and field in body["errors"][0]["extensions"]["fields"], body
    assert await snapshot() == before


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (LAST_OWNER[0][0], lambda w, p: {"ws": w.a.workspace, "u": p.owner.user_id}),
        ('mutation($ws: ID!) { createPartner(workspace: $ws, name: "  ") { id } }', lambda w, p: {"ws": w.a.workspace}),
        ('mutation($ws: ID!) { inviteMember(workspace: $ws, email: "not-an-email", role: VIEWER) { url } }', lambda w, p: {"ws": w.a.workspace}),
    ],
    ids=["last-owner", "partner-name", "invite-email"],
)
async def test_a_refusal_that_is_not_about_records_does_not_speak_of_record_fields(client, world, people, query, variables):
    """ValidationFailed's default message is about a record not fitting an endpoint; people managing members or partners need their own."""
    body = (await gql_as(client, people.owner.token, query, variables(world, people))).json()
    assert error_codes(body) == ["VALIDATION_FAILED"], body
    assert "endpoint's fields" not in body["errors"][0]["message"], body
