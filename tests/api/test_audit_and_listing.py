"""The audit log and the key listing (issue 3, items 5 and 6).

Every change is an event with actor, target, before / after, IP and user
agent; sign-ins and failed sign-ins too; no event or error message ever holds
a secret. The log pages and filters. The key listing answers in one request
with a fixed number of SQL queries, however many keys there are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server import tokens
from server.errors import Unauthenticated
from server.keys import Environment, hash_key
from server.models import ApiKey, AuditEvent, ClientDay
from server.policy import OPERATOR
from server.services import accounts
from server.services import keys as key_service
from server.services.audit import Actor
from server.services.keys import Handover, KeyGrant
from tests.conftest import SECRET, error_codes, gql, issue, key_id
from tests.people import PASSWORD, USER_AGENT, gql_as, gql_as_ok, people_fixture  # noqa: F401  (the fixture `people`)

EVENTS = """query($ws: ID!, $first: Int!, $after: String, $key: ID, $partner: ID, $actor: String, $action: String) {
  workspace(id: $ws) { auditEvents(first: $first, after: $after, key: $key, partner: $partner, actor: $actor, action: $action) {
    edges { cursor node { action actor targetKind targetId before after ip userAgent createdAt } }
    pageInfo { hasNextPage endCursor } } } }"""


async def events(client, people, ws: str, first: int = 200, **filters: Any) -> list[dict[str, Any]]:
    data = await gql_as_ok(client, people.viewer.token, EVENTS, {"ws": ws, "first": first} | filters)
    return [edge["node"] for edge in data["workspace"]["auditEvents"]["edges"]]


@dataclass(frozen=True)
class Change:
    role: str
    query: str
    variables: Callable[[Any, Any], dict[str, Any]]
    action: str
    target: Callable[[Any, dict[str, Any], dict[str, Any]], str]  # (world, variables, data) -> target id
    before: dict[str, Any] | None = None  # a subset the event's before must hold
    after: dict[str, Any] | None = None


def _ws(w, p):
    return {"ws": w.a.workspace}


def _var(name):
    return lambda w, v, d: v[name]


KEY_ONLY = {"id": None}


async def _test_key_vars(world) -> dict[str, Any]:
    return {"id": await key_id(world.a.keys["test"])}


CHANGES = [
    Change("owner", 'mutation($ws: ID!) { createEndpoint(workspace: $ws, name: "invoices", fields: [{name: "total", type: NUMBER}]) { id } }',
           _ws, "endpoint.create", lambda w, v, d: d["createEndpoint"]["id"], after={"name": "invoices"}),
    Change("owner", 'mutation($id: ID!) { updateEndpoint(id: $id, name: "purchase-orders") { id } }', lambda w, p: {"id": w.a.orders},
           "endpoint.update", _var("id"), before={"name": "orders"}, after={"name": "purchase-orders"}),
    Change("owner", "mutation($id: ID!) { archiveEndpoint(id: $id) { id } }", lambda w, p: {"id": w.a.leads}, "endpoint.archive", _var("id")),
    Change("admin", 'mutation($ws: ID!) { createPartner(workspace: $ws, name: "Initech") { id } }', _ws, "partner.create",
           lambda w, v, d: d["createPartner"]["id"], after={"name": "Initech"}),
    Change("admin", 'mutation($id: ID!) { updatePartner(id: $id, name: "Globex AG") { id } }', lambda w, p: {"id": w.a.globex},
           "partner.update", _var("id"), before={"name": "Globex"}, after={"name": "Globex AG"}),
    Change("admin", "mutation($id: ID!) { archivePartner(id: $id) { id } }", lambda w, p: {"id": w.a.globex}, "partner.archive", _var("id")),
    *[Change("admin", "mutation($ws: ID!, $p: ID!, $e: ID!) { issueKey(input: {workspace: $ws, partner: $p, endpoint: $e, environment: LIVE, "
              f"permissions: [CREATE], handover: {handover}}}) {{ key {{ id }} }} }}",
              lambda w, p: {"ws": w.a.workspace, "p": w.a.globex, "e": w.a.leads}, action, lambda w, v, d: d["issueKey"]["key"]["id"],
              after=after) for handover, action, after in (
        ("CLAIM", "key.issue", {"partner": "?globex", "permissions": ["create"], "handover": "claim", "active": True}),
        ("CLAIM", "key.claim_link", None),
        ("REVEAL", "key.reveal", None),
    )],
    Change("admin", "mutation($id: ID!) { deactivateKey(id: $id) { id } }", KEY_ONLY, "key.deactivate", _var("id"), {"active": True}, {"active": False}),
    Change("admin", "mutation($id: ID!) { off: deactivateKey(id: $id) { id } on: reactivateKey(id: $id) { id } }", KEY_ONLY, "key.reactivate",
           _var("id"), {"active": False}, {"active": True}),
    Change("admin", "mutation($id: ID!) { rollKey(id: $id, grace: ONE_HOUR) { secret } }", KEY_ONLY, "key.roll", _var("id")),
    Change("admin", "mutation($id: ID!) { deleteKey(id: $id) }", KEY_ONLY, "key.delete", _var("id"), {"environment": "test"}),
    Change("admin", "mutation($id: ID!) { setKeyPermissions(id: $id, input: {permissions: [READ], readableFields: [\"customer\"]}) { id } }",
           KEY_ONLY, "key.permissions", _var("id"), {"permissions": ["create", "delete", "read", "update"], "readable_fields": None},
           {"permissions": ["read"], "readable_fields": ["customer"]}),
    Change("owner", 'mutation($ws: ID!) { inviteMember(workspace: $ws, email: "nia@alpha.example", role: ADMIN) { url } }', _ws,
           "member.invite", lambda w, v, d: "?invitation", after={"email": "nia@alpha.example", "role": "admin"}),
    Change("owner", "mutation($ws: ID!, $u: ID!) { changeMemberRole(workspace: $ws, user: $u, role: ADMIN) { role } }",
           lambda w, p: {"ws": w.a.workspace, "u": p.bystander.user_id}, "member.role_change", _var("u"), {"role": "viewer"}, {"role": "admin"}),
    Change("owner", "mutation($ws: ID!, $u: ID!) { removeMember(workspace: $ws, user: $u) }",
           lambda w, p: {"ws": w.a.workspace, "u": p.bystander.user_id}, "member.remove", _var("u"), {"role": "viewer"}),
    Change("viewer", 'mutation { changePassword(currentPassword: "%s", newPassword: "another long passphrase") }' % PASSWORD,
           lambda w, p: {}, "user.password_change", lambda w, v, d: "?me"),
]


def _subset(expected: dict[str, Any] | None, actual: dict[str, Any] | None, world) -> None:
    if expected is None:
        return
    assert actual is not None
    for name, value in expected.items():
        assert actual[name] == (world.a.globex if value == "?globex" else value), (name, actual)


KINDS = {"endpoint": "endpoint", "partner": "partner", "key": "key", "member": "user", "user": "user", "member.invite": "invitation"}


@pytest.mark.parametrize("change", CHANGES, ids=[c.action for c in CHANGES])
async def test_each_change_writes_an_event(client, world, people, change: Change):
    variables = change.variables(world, people) if change.variables is not KEY_ONLY else await _test_key_vars(world)
    actor = getattr(people, change.role)
    data = await gql_as_ok(client, actor.token, change.query, variables)
    [event] = await events(client, people, world.a.workspace, first=1, action=change.action)
    target = change.target(world, variables, data)
    assert event["actor"] == actor.user_id
    if target == "?me":
        target = actor.user_id
    if not target.startswith("?"):
        assert event["targetId"] == target
    assert event["targetKind"] == KINDS.get(change.action, KINDS[change.action.split(".")[0]])
    assert event["ip"] == "127.0.0.1" and event["userAgent"] == USER_AGENT, event
    if change.action == "key.roll":  # a new secret: the display (prefix and last 4) changes, and only it
        assert event["before"]["display"] == f"tm_test_…{world.a.keys['test'][-4:]}" != event["after"]["display"]
        assert {k: v for k, v in event["before"].items() if k != "display"} == {k: v for k, v in event["after"].items() if k != "display"}
    else:
        _subset(change.before, event["before"], world)
        _subset(change.after, event["after"], world)
    assert datetime.fromisoformat(event["createdAt"]) > datetime.now(UTC) - timedelta(minutes=1)


async def test_a_claim_is_logged_with_the_partners_address(client, world, people, settings):
    issued = await key_service.issue_key(OPERATOR, world.a.workspace, world.a.acme, world.a.orders, Environment.TEST,
                                         KeyGrant.parse(["read"]), Handover.CLAIM, settings, Actor(people.admin.user_id))
    await key_service.claim(issued.claim_url.rsplit("/", 1)[-1], settings, Actor("partner", "203.0.113.9", "curl/8"))
    [event] = await events(client, people, world.a.workspace, first=1, action="key.claim")
    assert (event["targetId"], event["ip"], event["userAgent"]) == (issued.key.id, "203.0.113.9", "curl/8")


async def test_sign_in_and_failed_sign_in_are_logged(world, people, settings):
    where = Actor("-", "198.51.100.7", "Mozilla/5.0 test")
    user, token = await accounts.sign_in("OLIVIA@alpha.example", PASSWORD, settings, where)
    messages = []
    for email in ("olivia@alpha.example", "nobody@alpha.example"):
        with pytest.raises(Unauthenticated) as refused:
            await accounts.sign_in(email, "wrong password entirely", settings, where)
        messages.append(refused.value.message)

    rows = await AuditEvent.filter(action__startswith="user.sign_in").order_by("seq").values()
    seen = [(r["action"], r["actor"], r["workspace_id"], r["target_id"], r["ip"], r["user_agent"]) for r in rows]
    assert seen == [
        ("user.sign_in", user.id, world.a.workspace, user.id, "198.51.100.7", "Mozilla/5.0 test"),
        ("user.sign_in_failed", user.id, world.a.workspace, user.id, "198.51.100.7", "Mozilla/5.0 test"),
        ("user.sign_in_failed", "email:nobody@alpha.example", None, "-", "198.51.100.7", "Mozilla/5.0 test"),
    ]
    with pytest.raises(Unauthenticated) as refused:
        await accounts.sign_in("not an email", "wrong password entirely", settings, where)
    assert {refused.value.message, *messages} == {messages[0]}  # one answer for a wrong password and any unknown email
    assert token not in json.dumps(rows, default=str)


async def test_no_event_or_error_holds_a_secret(client, world, people, settings):
    secrets = [*world.a.keys.values(), *world.b.keys.values(), *(getattr(people, p).token for p in ("owner", "admin", "viewer", "owner_b"))]
    ident = await key_id(world.a.keys["test"])
    roll = "mutation($id: ID!, $g: RollGrace!) { rollKey(id: $id, grace: $g) { secret } }"
    rolled = [(await gql_as_ok(client, people.admin.token, roll, {"id": ident, "g": g}))["rollKey"]["secret"] for g in ("ONE_HOUR", "NONE")]
    issued = await key_service.issue_key(OPERATOR, world.a.workspace, world.a.acme, world.a.orders, Environment.TEST,
                                         KeyGrant.parse(["read"]), Handover.CLAIM, settings, Actor(people.admin.user_id))
    claim_token = issued.claim_url.rsplit("/", 1)[-1]
    _, claimed = await key_service.claim(claim_token, settings, Actor("partner"))
    _, signed_in = await accounts.sign_in("adam@alpha.example", PASSWORD, settings, Actor("-"))
    invite = 'mutation($ws: ID!) { inviteMember(workspace: $ws, email: "x@alpha.example", role: VIEWER) { url } }'
    invitation = (await gql_as_ok(client, people.owner.token, invite, {"ws": world.a.workspace}))["inviteMember"]["url"].rsplit("/", 1)[-1]
    secrets += [*rolled, claimed, claim_token, signed_in, invitation]

    errors = []  # refusals that present a secret: none may echo it
    await gql_as_ok(client, people.admin.token, "mutation($id: ID!) { deactivateKey(id: $id) { id } }", {"id": ident})
    for key in (*rolled, world.a.keys["test"], world.b.keys["test"] + "x"):
        errors.append((await gql(client, key, "{ viewer { kind } }")).text)
    errors.append((await gql_as(client, people.owner.token + "x", "{ viewer { kind } }")).text)
    errors.append((await gql(client, claimed, "mutation($id: ID!) { deleteKey(id: $id) }", {"id": ident})).text)
    assert all('"errors"' in text for text in errors)

    rows = json.dumps(await AuditEvent.all().values(), default=str)
    hashes = [hash_key(s, SECRET) for s in secrets if s.startswith("tm_")]
    hashes += [tokens.hash_token(t, SECRET, accounts.SESSION) for t in secrets if not t.startswith("tm_")]
    for secret in secrets + hashes:
        assert secret not in rows
        assert not any(secret in text for text in errors)
        assert secret[8:-6] not in rows  # nor its random middle


async def test_audit_events_page_newest_first(client, world, people):
    for n in range(7):
        await gql_as_ok(client, people.admin.token, 'mutation($ws: ID!, $n: String!) { createPartner(workspace: $ws, name: $n) { id } }', {"ws": world.a.workspace, "n": f"P{n}"})
    everything = await events(client, people, world.a.workspace)
    assert len(everything) > 10 and everything[0]["after"] == {"name": "P6"}
    times = [e["createdAt"] for e in everything]
    assert times == sorted(times, reverse=True)
    pages, after = [], None
    while True:
        data = await gql_as_ok(client, people.viewer.token, EVENTS, {"ws": world.a.workspace, "first": 3, "after": after})
        connection = data["workspace"]["auditEvents"]
        pages.append([edge["node"] for edge in connection["edges"]])
        assert connection["pageInfo"]["endCursor"] == (connection["edges"][-1]["cursor"] if connection["edges"] else None)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        assert not after.isdigit()  # opaque, not a row number
    assert all(len(page) == 3 for page in pages[:-1]) and 1 <= len(pages[-1]) <= 3
    assert [e for page in pages for e in page] == everything


@pytest.mark.parametrize("first", [-1, 201])
async def test_audit_page_size_is_checked(client, world, people, first):
    body = (await gql_as(client, people.viewer.token, EVENTS, {"ws": world.a.workspace, "first": first})).json()
    assert error_codes(body) == ["VALIDATION_FAILED"] and "first" in body["errors"][0]["extensions"]["fields"]


async def test_audit_filters(client, world, people):
    a = world.a
    key_t = await key_id(a.keys["test"])
    off = "mutation($id: ID!) { deactivateKey(id: $id) { id } }"
    await gql_as_ok(client, people.admin.token, off, {"id": key_t})
    await gql_as_ok(client, people.owner.token, 'mutation($id: ID!) { updatePartner(id: $id, name: "Globex AG") { id } }', {"id": a.globex})
    issued = await gql_as_ok(client, people.admin.token, "mutation($ws: ID!, $p: ID!, $e: ID!) { issueKey(input: {workspace: $ws, partner: $p, endpoint: $e, "
                             "environment: TEST, permissions: [READ]}) { key { id } } }", {"ws": a.workspace, "p": a.globex, "e": a.leads})
    key_g = issued["issueKey"]["key"]["id"]
    await gql_as_ok(client, people.admin.token, off, {"id": key_g})

    async def seen(**filters):
        return sorted((e["action"], e["targetId"], e["actor"]) for e in await events(client, people, a.workspace, **filters))

    admin, owner = people.admin.user_id, people.owner.user_id
    assert await seen(key=key_t) == sorted([("key.deactivate", key_t, admin), ("key.issue", key_t, "cli"), ("key.reveal", key_t, "cli")])
    assert await seen(partner=a.globex) == sorted([
        ("key.deactivate", key_g, admin), ("key.issue", key_g, admin), ("key.reveal", key_g, admin),
        ("partner.create", a.globex, "cli"), ("partner.update", a.globex, owner)])
    assert await seen(actor=admin) == sorted([("key.deactivate", key_g, admin), ("key.deactivate", key_t, admin), ("key.issue", key_g, admin), ("key.reveal", key_g, admin)])
    assert await seen(action="key.deactivate") == sorted([("key.deactivate", key_g, admin), ("key.deactivate", key_t, admin)])
    assert await seen(actor=admin, action="key.issue", partner=a.globex) == [("key.issue", key_g, admin)]
    assert await seen(key=await key_id(world.b.keys["test"])) == []  # B's key: nothing of B leaks


# --- key listing ----------------------------------------------------------------------

LISTING = """query($ws: ID!, $partner: ID, $endpoint: ID, $env: Environment, $status: KeyStatus) { workspace(id: $ws) {
  keys(partner: $partner, endpoint: $endpoint, environment: $env, status: $status) { id partner { name } endpoint { name } environment
    permissions status createdBy createdByName createdAt lastUsedAt expiresAt usesLast30Days } } }"""


async def _issue_as(world, people, settings, n: int) -> None:
    a, pairs = world.a, [(world.a.acme, world.a.orders), (world.a.globex, world.a.leads), (world.a.globex, world.a.orders)]
    for i in range(n):
        partner, endpoint = pairs[i % 3]
        await key_service.issue_key(OPERATOR, a.workspace, partner, endpoint, Environment.TEST, KeyGrant.parse(["create"]),
                                    Handover.REVEAL, settings, Actor(people.owner.user_id if i % 2 else people.admin.user_id))


async def _listing(client, people, world, **filters) -> list[dict[str, Any]]:
    return (await gql_as_ok(client, people.viewer.token, LISTING, {"ws": world.a.workspace} | filters))["workspace"]["keys"]


async def test_key_listing_uses_a_fixed_number_of_queries(client, world, people, settings, sent_statements):
    await _issue_as(world, people, settings, 3)
    counts = {}
    for total in (5, 20):
        await _issue_as(world, people, settings, total - await ApiKey.filter(workspace_id=world.a.workspace).count())
        sent_statements.clear()
        listed = await _listing(client, people, world)
        assert len(listed) == total
        counts[total] = len(sent_statements)
    assert 0 < counts[5] == counts[20], counts
    names = {(k["partner"]["name"], k["endpoint"]["name"]) for k in listed}
    assert names == {("Acme", "orders"), ("Globex", "leads"), ("Globex", "orders")}
    assert {k["createdByName"] for k in listed} == {None, "Olivia", "Adam"}
    assert all(k["createdByName"] is None for k in listed if k["createdBy"] == "cli")


async def test_listing_counts_real_uses_in_the_last_30_days(client, world, people, app):
    test_key, live_key = world.a.keys["test"], world.a.keys["live"]
    for _ in range(3):
        await gql(client, test_key, "{ viewer { kind } }")
    await gql(client, live_key, "{ viewer { kind } }")
    before = {k["id"]: k for k in await _listing(client, people, world)}
    assert {k["usesLast30Days"] for k in before.values()} == {0} and all(k["lastUsedAt"] is None for k in before.values())
    await app.state.key_usage.flush()
    test_id, live_id = await key_id(test_key), await key_id(live_key)
    today = datetime.now(UTC).date()
    await ClientDay.create(key_id=live_id, day=today - timedelta(days=29), client="c" * 32, requests=10)  # inside the 30 days
    await ClientDay.create(key_id=live_id, day=today - timedelta(days=30), client="c" * 32, requests=100)  # outside
    after = {k["id"]: k for k in await _listing(client, people, world)}
    assert (after[test_id]["usesLast30Days"], after[live_id]["usesLast30Days"]) == (3, 11)
    assert after[test_id]["lastUsedAt"] and after[live_id]["lastUsedAt"]


async def test_listing_filters(client, world, people, settings):
    a = world.a
    test_id, live_id = await key_id(a.keys["test"]), await key_id(a.keys["live"])
    leads_id = await key_id(await issue(a, endpoint=a.leads, partner=a.globex))
    expired_id = await key_id(await issue(a, partner=a.globex))
    await ApiKey.filter(id=expired_id).update(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    unclaimed = await key_service.issue_key(OPERATOR, a.workspace, a.globex, a.orders, Environment.LIVE, KeyGrant.parse(["create"]),
                                            Handover.CLAIM, settings, Actor("cli"))
    await gql_as_ok(client, people.admin.token, "mutation($id: ID!) { deactivateKey(id: $id) { id } }", {"id": live_id})

    async def ids(**filters):
        return {k["id"] for k in await _listing(client, people, world, **filters)}

    assert await ids() == {test_id, live_id, leads_id, expired_id, unclaimed.key.id}
    assert await ids(partner=a.acme) == {test_id, live_id}
    assert await ids(endpoint=a.leads) == {leads_id}
    assert await ids(env="LIVE") == {live_id, unclaimed.key.id}
    assert await ids(status="ACTIVE") == {test_id, leads_id}
    assert await ids(status="DEACTIVATED") == {live_id}
    assert await ids(status="EXPIRED") == {expired_id}
    assert await ids(status="UNCLAIMED") == {unclaimed.key.id}
    assert await ids(partner=a.globex, env="TEST", status="ACTIVE") == {leads_id}
    assert await ids(partner=world.b.acme) == set()  # another workspace's partner lists nothing


async def test_a_sign_in_with_a_malformed_email_is_logged_too(world, people, settings):
    """Issue 3, item 5: every failed sign-in is an event, whatever was typed as the email."""
    with pytest.raises(Unauthenticated):
        await accounts.sign_in("not an email", "whatever it is", settings, Actor("-", "198.51.100.7", "Mozilla/5.0 test"))
    rows = await AuditEvent.filter(action="user.sign_in_failed").values("workspace_id", "ip", "user_agent")
    assert rows == [{"workspace_id": None, "ip": "198.51.100.7", "user_agent": "Mozilla/5.0 test"}]

