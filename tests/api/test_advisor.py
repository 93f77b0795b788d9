"""The least-privilege advisor (what a key used, the exact dry run, the reduction) and blast radius."""

from __future__ import annotations

from datetime import timedelta

from server.models import ApiKey, AuditEvent, ClientDay, Record, UsageDay
from server.services.usage import BEFORE_EXECUTION
from tests.api.test_checklist import TODAY, ago, clients_on, new_key, shape
from tests.conftest import CREATE, ORDER, error_codes, gql, gql_ok, issue, key_id
from tests.people import gql_as, gql_as_ok, people_fixture  # noqa: F401  (the fixture `people`)

USAGE = """query($id: ID!, $days: Int) { keyUsage(id: $id, days: $days) { days since distinctClients busiestDay busiestDayClients firstDay lastDay
  operations { operation granted allowed refused firstDay lastDay } fieldsWritten { name writable requests }
  suggestion { permissions writableFields } suggestionDryRun { requests wouldRefuse safe } } }"""
DRY_RUN = """query($id: ID!, $proposal: PermissionProposalInput!, $days: Int) { keyDryRun(id: $id, proposal: $proposal, days: $days) {
  days requests wouldRefuse safe refused { operation fields requests reason } } }"""
REDUCE = """mutation($id: ID!, $to: PermissionProposalInput, $accept: Boolean!) { reduceKeyPermissions(id: $id, to: $to, acceptRefusals: $accept) {
  key { permissions writableFields readableFields } dryRun { wouldRefuse } } }"""


async def history(tenant) -> str:
    """A key with every operation, mixed write shapes, refusals, and traffic before the window."""
    ident = await new_key(tenant, created_days_ago=60)
    d1, d2, d9 = TODAY, TODAY - timedelta(days=1), TODAY - timedelta(days=9)
    await shape(ident, d9, "create", "amount,customer", 10)
    await shape(ident, d2, "create", "amount,customer,note", 3)
    await shape(ident, d1, "update", "note", 4)
    await shape(ident, d1, "read", "", 7)
    await shape(ident, d2, "delete", "", 2)
    await shape(ident, TODAY - timedelta(days=40), "create", "amount,customer,note", 100)  # outside a 30-day window
    await UsageDay.filter(key_id=ident, day=d1, operation="read").update(refused=5)
    await clients_on(ident, d2, 2)
    await clients_on(ident, d1, 1)  # the same first client again, so 2 distinct over the window
    await ClientDay.create(key_id=ident, day=TODAY - timedelta(days=40), client="old" + "0" * 29, requests=1)
    return ident


async def test_dry_run_count_is_exact_on_mixed_shapes(client, world, people):
    ident = await history(world.a)
    cases = [
        # CREATE + READ, writing only amount and customer: 3 creates wrote note, 4 updates, 2 deletes
        ({"permissions": ["CREATE", "READ"], "writableFields": ["amount", "customer"]}, 9),
        ({"permissions": ["CREATE", "READ", "UPDATE", "DELETE"], "writableFields": None}, 0),
        ({"permissions": ["CREATE", "READ", "UPDATE", "DELETE"], "writableFields": ["amount", "customer"]}, 7),
        ({"permissions": ["READ"]}, 19),
        ({"permissions": ["UPDATE", "DELETE", "READ"], "writableFields": []}, 17),
    ]
    for proposal, want in cases:
        data = (await gql_as_ok(client, people.viewer.token, DRY_RUN, {"id": ident, "proposal": proposal}))["keyDryRun"]
        assert (data["requests"], data["wouldRefuse"], data["safe"]) == (26, want, want == 0), (proposal, data)
        assert sum(r["requests"] for r in data["refused"]) == want

    data = (await gql_as_ok(client, people.viewer.token, DRY_RUN, {"id": ident, "proposal": cases[0][0]}))["keyDryRun"]
    assert data["refused"] == [
        {"operation": "UPDATE", "fields": ["note"], "requests": 4, "reason": "UPDATE would not be granted"},
        {"operation": "CREATE", "fields": ["amount", "customer", "note"], "requests": 3, "reason": "writes note, which would not be writable"},
        {"operation": "DELETE", "fields": [], "requests": 2, "reason": "DELETE would not be granted"},
    ]
    # A longer window reaches the old traffic too.
    data = (await gql_as_ok(client, people.viewer.token, DRY_RUN, {"id": ident, "proposal": cases[0][0], "days": 60}))["keyDryRun"]
    assert (data["requests"], data["wouldRefuse"]) == (126, 109)


async def test_usage_report_says_what_was_used(client, world, people):
    ident = await history(world.a)
    await ApiKey.filter(id=ident).update(writable_fields=["amount", "customer", "note"])
    data = (await gql_as_ok(client, people.viewer.token, USAGE, {"id": ident}))["keyUsage"]
    assert data["days"] == 30 and data["since"] == (TODAY - timedelta(days=29)).isoformat()
    ops = {o["operation"]: o for o in data["operations"]}
    assert {name: (o["allowed"], o["refused"]) for name, o in ops.items()} == {"CREATE": (13, 0), "READ": (7, 5), "UPDATE": (4, 0), "DELETE": (2, 0)}
    assert ops["CREATE"]["firstDay"] == (TODAY - timedelta(days=9)).isoformat() and ops["CREATE"]["lastDay"] == (TODAY - timedelta(days=1)).isoformat()
    assert data["fieldsWritten"] == [
        {"name": "customer", "writable": True, "requests": 13},
        {"name": "amount", "writable": True, "requests": 13},
        {"name": "note", "writable": True, "requests": 7},
    ]
    assert (data["distinctClients"], data["busiestDay"], data["busiestDayClients"]) == (2, (TODAY - timedelta(days=1)).isoformat(), 2)
    assert data["firstDay"] == (TODAY - timedelta(days=9)).isoformat() and data["lastDay"] == TODAY.isoformat()
    assert data["suggestion"] == {"permissions": ["CREATE", "READ", "UPDATE", "DELETE"], "writableFields": ["amount", "customer", "note"]}
    assert data["suggestionDryRun"] == {"requests": 26, "wouldRefuse": 0, "safe": True}

    # Today only: reads and updates of note.
    data = (await gql_as_ok(client, people.viewer.token, USAGE, {"id": ident, "days": 1}))["keyUsage"]
    assert data["suggestion"] == {"permissions": ["READ", "UPDATE"], "writableFields": ["note"]}


async def test_usage_report_and_reduce_ignore_refusals_before_any_operation(client, world, people):
    """A deactivated or rate-limited key is refused before its operation is read: counted under ""."""
    ident = await history(world.a)
    await UsageDay.create(key_id=ident, day=TODAY, operation=BEFORE_EXECUTION, refused=3)
    data = (await gql_as_ok(client, people.viewer.token, USAGE, {"id": ident}))["keyUsage"]
    ops = {o["operation"]: (o["allowed"], o["refused"]) for o in data["operations"]}
    assert ops == {"CREATE": (13, 0), "READ": (7, 5), "UPDATE": (4, 0), "DELETE": (2, 0)}
    assert data["suggestionDryRun"] == {"requests": 26, "wouldRefuse": 0, "safe": True}
    reduced = (await gql_as_ok(client, people.admin.token, REDUCE, {"id": ident, "to": None, "accept": False}))["reduceKeyPermissions"]
    assert reduced["dryRun"]["wouldRefuse"] == 0


async def test_reduce_refuses_when_requests_would_be_refused(client, world, people):
    ident = await history(world.a)
    before = await ApiKey.get(id=ident)
    narrower = {"permissions": ["CREATE", "READ"], "writableFields": ["amount", "customer"]}
    body = (await gql_as(client, people.admin.token, REDUCE, {"id": ident, "to": narrower, "accept": False})).json()
    assert error_codes(body) == ["WOULD_REFUSE_REQUESTS"]
    assert {"wouldRefuse": 9, "requests": 26}.items() <= body["errors"][0]["extensions"].items()
    assert (await ApiKey.get(id=ident)).permissions == before.permissions
    assert not await AuditEvent.filter(action="key.permissions").exists()

    data = await gql_as_ok(client, people.admin.token, REDUCE, {"id": ident, "to": narrower, "accept": True})
    assert data["reduceKeyPermissions"] == {"key": {"permissions": ["CREATE", "READ"], "writableFields": ["amount", "customer"], "readableFields": None}, "dryRun": {"wouldRefuse": 9}}
    assert await AuditEvent.filter(action="key.permissions", target_id=ident, actor=people.admin.user_id).exists()


async def test_reduce_never_widens_and_needs_some_use(client, world, people):
    narrow = await new_key(world.a, permissions=["create"], writable_fields=["amount", "customer"], created_days_ago=40)
    for to, field in (({"permissions": ["CREATE", "READ"], "writableFields": ["amount"]}, "permissions"),
                      ({"permissions": ["CREATE"], "writableFields": ["amount", "note"]}, "writableFields"),
                      ({"permissions": ["CREATE"], "writableFields": None}, "writableFields"),
                      ({"permissions": ["CREATE"], "writableFields": ["nope"]}, "writableFields")):
        body = (await gql_as(client, people.admin.token, REDUCE, {"id": narrow, "to": to, "accept": True})).json()
        assert error_codes(body) == ["VALIDATION_FAILED"] and field in body["errors"][0]["extensions"]["fields"], body
    body = (await gql_as(client, people.admin.token, REDUCE, {"id": narrow, "to": None, "accept": False})).json()
    assert error_codes(body) == ["VALIDATION_FAILED"] and "deactivate" in body["errors"][0]["message"]
    assert not await AuditEvent.filter(action="key.permissions").exists()


async def test_advisor_refusals(client, world, people):
    ident = await history(world.a)
    proposal = {"permissions": ["READ"]}
    for token, want in ((people.owner_b.token, "NOT_FOUND"),):
        assert error_codes((await gql_as(client, token, USAGE, {"id": ident})).json()) == [want]
        assert error_codes((await gql_as(client, token, DRY_RUN, {"id": ident, "proposal": proposal})).json()) == [want]
    assert error_codes((await gql(client, world.a.keys["test"], USAGE, {"id": ident})).json()) == ["FORBIDDEN"]
    body = (await gql_as(client, people.viewer.token, REDUCE, {"id": ident, "to": proposal, "accept": True})).json()
    assert error_codes(body) == ["FORBIDDEN"]
    for days in (0, 401):
        body = (await gql_as(client, people.viewer.token, USAGE, {"id": ident, "days": days})).json()
        assert error_codes(body) == ["VALIDATION_FAILED"] and "days" in body["errors"][0]["extensions"]["fields"]


# --- blast radius ----------------------------------------------------------------------------------

BLAST = """query($id: ID!, $since: DateTime, $until: DateTime, $first: Int!, $after: String) {
  blastRadius(id: $id, since: $since, until: $until, first: $first, after: $after) { edges { node { id data environment } } pageInfo { hasNextPage endCursor } } }"""


async def test_blast_radius_lists_what_the_key_created_in_the_window(client, world, people):
    a = world.a
    leaked = await issue(a, env="live")
    other = a.keys["live"]
    made = []
    for n in range(5):
        made.append((await gql_ok(client, leaked, CREATE, {"endpoint": a.orders, "data": ORDER | {"amount": n}}))["createRecord"]["id"])
        await gql_ok(client, other, CREATE, {"endpoint": a.orders, "data": ORDER})
    for days, record in zip((10, 4, 3, 2, 1), made, strict=True):
        await Record.filter(id=record).update(created_at=ago(days))
    ident = await key_id(leaked)

    page = (await gql_as_ok(client, people.viewer.token, BLAST, {"id": ident, "first": 2, "since": ago(5).isoformat()}))["blastRadius"]
    assert [e["node"]["id"] for e in page["edges"]] == [made[4], made[3]] and page["pageInfo"]["hasNextPage"]
    assert page["edges"][0]["node"]["data"] == ORDER | {"amount": 4} and page["edges"][0]["node"]["environment"] == "LIVE"
    rest = (await gql_as_ok(client, people.viewer.token, BLAST, {"id": ident, "first": 2, "since": ago(5).isoformat(), "after": page["pageInfo"]["endCursor"]}))["blastRadius"]
    assert [e["node"]["id"] for e in rest["edges"]] == [made[2], made[1]] and not rest["pageInfo"]["hasNextPage"]
    window = (await gql_as_ok(client, people.viewer.token, BLAST, {"id": ident, "first": 50, "since": ago(3.5).isoformat(), "until": ago(1.5).isoformat()}))["blastRadius"]
    assert [e["node"]["id"] for e in window["edges"]] == [made[3], made[2]]
    everything = (await gql_as_ok(client, people.viewer.token, BLAST, {"id": ident, "first": 50}))["blastRadius"]
    assert [e["node"]["id"] for e in everything["edges"]] == made[::-1]

    for variables in ({"since": ago(1).isoformat(), "until": ago(2).isoformat()}, {"since": "2026-01-01T00:00:00"}, {"first": 201}):
        body = (await gql_as(client, people.viewer.token, BLAST, {"id": ident, "first": 50} | variables)).json()
        assert error_codes(body) == ["VALIDATION_FAILED"], (variables, body)
    assert error_codes((await gql_as(client, people.owner_b.token, BLAST, {"id": ident, "first": 5})).json()) == ["NOT_FOUND"]
    assert error_codes((await gql(client, leaked, BLAST, {"id": ident, "first": 5})).json()) == ["FORBIDDEN"]
