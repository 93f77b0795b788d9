"""The safety checklist: each item fires on a history built for it and stays quiet on its near miss.

Histories are built by writing usage facts (ClientDay, UsageDay, UsageShape)
and key dates straight into the database, as the usage flush would have.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

from server.keys import Environment
from server.models import ApiKey, AuditEvent, ClaimLink, ClientDay, UsageDay, UsageShape
from server.policy import OPERATOR
from server.services import keys as key_service
from server.services.audit import CLI
from server.services.keys import Handover, KeyGrant
from server.settings import Settings
from tests.conftest import SECRET, error_codes, gql, issue, key_id
from tests.people import gql_as, gql_as_ok, people_fixture  # noqa: F401  (the fixture `people`)

CHECKLIST = """query($ws: ID!) { workspace(id: $ws) { checklist { openCount items { kind question openCount findings {
  key { id status } evidence fixes open day clients lastUsedAt idleDays claimLinkExpiredAt unusedOperations unusedWritableFields
  leakedAt leakUrl deactivatedAt } } settings { sharedKeyClients unusedKeyDays unusedPermissionDays idleKeyDays } } } }"""

NOW = datetime.now(UTC)
TODAY = NOW.date()


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


async def checklist(client, people, world) -> dict:
    return (await gql_as_ok(client, people.viewer.token, CHECKLIST, {"ws": world.a.workspace}))["workspace"]["checklist"]


async def findings(client, people, world, kind: str) -> dict[str, dict]:
    items = {item["kind"]: item for item in (await checklist(client, people, world))["items"]}
    return {f["key"]["id"]: f for f in items[kind]["findings"]}


async def new_key(tenant, *, created_days_ago: float = 0, **kwargs) -> str:
    ident = await key_id(await issue(tenant, **kwargs))
    await ApiKey.filter(id=ident).update(created_at=ago(created_days_ago))
    return ident


async def clients_on(ident: str, day: date, count: int) -> None:
    for n in range(count):
        await ClientDay.create(key_id=ident, day=day, client=f"client{n:026d}", requests=3)


async def shape(ident: str, day: date, operation: str, fields: str, requests: int) -> None:
    await UsageShape.create(
        key_id=ident, day=day, operation=operation, fields=fields, fields_hash=hashlib.md5(fields.encode()).hexdigest(), requests=requests
    )
    row = await UsageDay.get_or_none(key_id=ident, day=day, operation=operation)
    if row is None:
        await UsageDay.create(key_id=ident, day=day, operation=operation, allowed=requests)
    else:
        await UsageDay.filter(id=row.id).update(allowed=row.allowed + requests)


# --- 1. shared keys --------------------------------------------------------------------------------


async def test_shared_key_fires_past_the_threshold_not_at_it(client, world, people):
    a = world.a
    shared, at_threshold, switched_off, long_ago = [await new_key(a) for _ in range(4)]
    await clients_on(shared, TODAY - timedelta(days=2), 5)
    await clients_on(shared, TODAY - timedelta(days=1), 4)
    await clients_on(at_threshold, TODAY, 3)  # exactly the threshold (3): not more
    await clients_on(switched_off, TODAY, 9)
    await key_service.set_active(OPERATOR, switched_off, False, CLI)
    await clients_on(long_ago, TODAY - timedelta(days=31), 9)  # outside the 30-day window

    found = await findings(client, people, world, "SHARED_KEYS")
    assert set(found) == {shared}
    day = (TODAY - timedelta(days=2)).isoformat()
    assert found[shared]["day"] == day and found[shared]["clients"] == 5
    assert found[shared]["evidence"] == [f"5 distinct clients on {day} (more than 3)"]
    assert found[shared]["fixes"] == ["DEACTIVATE"]


async def test_shared_key_threshold_is_the_workspace_setting(client, world, people):
    ident = await new_key(world.a)
    await clients_on(ident, TODAY, 4)
    assert ident in await findings(client, people, world, "SHARED_KEYS")
    await gql_as_ok(client, people.admin.token, "mutation($ws: ID!) { setSafetySettings(workspace: $ws, input: {sharedKeyClients: 4}) { sharedKeyClients } }", {"ws": world.a.workspace})
    assert ident not in await findings(client, people, world, "SHARED_KEYS")


# --- 2. test and live ------------------------------------------------------------------------------


async def test_live_key_without_any_test_key_fires(client, world, people):
    a = world.a
    untested = await new_key(a, partner=a.globex, env="live")
    tested = await key_id(a.keys["live"])  # Acme has a test key on orders
    other_endpoint = await new_key(a, partner=a.acme, endpoint=a.leads, env="live")  # Acme's test key is on orders only
    off = await new_key(a, partner=a.globex, endpoint=a.leads, env="live")
    await key_service.set_active(OPERATOR, off, False, CLI)

    found = await findings(client, people, world, "TEST_BEFORE_LIVE")
    assert set(found) == {untested, other_endpoint}
    assert tested not in found
    assert "Globex never had a test key for orders" in found[untested]["evidence"][0]
    assert found[untested]["fixes"] == ["ISSUE_TEST_KEY"]

    # A test key, even one switched off since, clears it.
    test_key = await new_key(a, partner=a.globex, env="test")
    await key_service.set_active(OPERATOR, test_key, False, CLI)
    assert untested not in await findings(client, people, world, "TEST_BEFORE_LIVE")


# --- 3. plain-text hand-over -----------------------------------------------------------------------


async def claim_key(tenant) -> tuple[str, str]:
    issued = await key_service.issue_key(
        OPERATOR, tenant.workspace, tenant.globex, tenant.orders, Environment.TEST, KeyGrant.parse(["read"]), Handover.CLAIM, Settings(secret_key=SECRET), CLI
    )
    return issued.key.id, issued.claim_url.rsplit("/", 1)[1]


async def test_revealed_keys_and_expired_claim_links_fire(client, world, people):
    a = world.a
    revealed = await key_id(a.keys["test"])
    revealed_off = await new_key(a)
    await key_service.set_active(OPERATOR, revealed_off, False, CLI)
    waiting, _ = await claim_key(a)  # link still valid
    expired, _ = await claim_key(a)
    await ClaimLink.filter(key_id=expired).update(expires_at=ago(1))
    claimed, token = await claim_key(a)
    await key_service.claim(token, Settings(secret_key=SECRET), CLI)

    found = await findings(client, people, world, "PLAIN_TEXT_HANDOVER")
    assert revealed in found and expired in found
    assert not {revealed_off, waiting, claimed} & set(found)
    assert found[revealed]["fixes"] == ["REPLACE_WITH_CLAIM_LINK", "DEACTIVATE"]
    assert "revealed on screen" in found[revealed]["evidence"][0]
    assert found[expired]["fixes"] == ["SEND_CLAIM_LINK", "DEACTIVATE"]
    assert found[expired]["claimLinkExpiredAt"] is not None
    assert found[expired]["evidence"][0].startswith(f"claim link expired unclaimed on {ago(1).date().isoformat()}")


# --- 4. unused keys --------------------------------------------------------------------------------


async def test_unused_keys_fire_past_n_days_and_7_days_after_issue(client, world, people):
    a = world.a
    stale = await new_key(a, created_days_ago=90)
    await ApiKey.filter(id=stale).update(last_used_at=ago(31))
    recent = await new_key(a, created_days_ago=90)
    await ApiKey.filter(id=recent).update(last_used_at=ago(29))
    never_old = await new_key(a, created_days_ago=8)
    never_new = await new_key(a, created_days_ago=6)
    off = await new_key(a, created_days_ago=90)
    await key_service.set_active(OPERATOR, off, False, CLI)
    expired = await new_key(a, created_days_ago=90)
    await ApiKey.filter(id=expired).update(expires_at=ago(1))
    archived = await new_key(a, partner=a.globex, created_days_ago=90)
    await gql_as_ok(client, people.admin.token, "mutation($id: ID!) { archivePartner(id: $id) { id } }", {"id": a.globex})

    found = await findings(client, people, world, "UNUSED_KEYS")
    assert stale in found and never_old in found
    assert not {recent, never_new, off, expired, archived} & set(found)
    assert found[stale]["evidence"] == [f"last used {ago(31).date().isoformat()}, 31 days ago (limit 30)"]
    assert found[stale]["idleDays"] == 31
    assert found[never_old]["evidence"] == [f"issued {ago(8).date().isoformat()}, never used"]
    assert found[never_old]["lastUsedAt"] is None and found[never_old]["fixes"] == ["DEACTIVATE"]


# --- 5. excess permissions -------------------------------------------------------------------------


async def test_excess_permissions_name_unused_operations_and_fields(client, world, people):
    a = world.a
    excess = await new_key(a, created_days_ago=40)
    await shape(excess, TODAY - timedelta(days=3), "create", "amount,customer", 12)
    await shape(excess, TODAY - timedelta(days=45), "update", "note", 5)  # before the window
    everything = await new_key(a, created_days_ago=40)
    for operation, fields in (("create", "amount,customer,note"), ("read", ""), ("update", "note"), ("delete", "")):
        await shape(everything, TODAY, operation, fields, 1)
    young = await new_key(a, created_days_ago=10)
    await shape(young, TODAY, "read", "", 1)
    idle = await new_key(a, created_days_ago=40)  # used nothing: the unused-keys item's business

    found = await findings(client, people, world, "EXCESS_PERMISSIONS")
    assert excess in found
    assert not {everything, young, idle} & set(found)
    assert found[excess]["unusedOperations"] == ["READ", "UPDATE", "DELETE"]
    assert found[excess]["unusedWritableFields"] == ["note"]
    assert found[excess]["evidence"] == [
        "READ, UPDATE, DELETE granted, not used in 30 days",
        "fields note writable but never written in 30 days",
    ]
    assert found[excess]["fixes"] == ["REDUCE_PERMISSIONS"]


# --- leaked keys and the idle-key policy ---------------------------------------------------------


async def test_leaked_keys_are_listed_open_only_while_active(client, world, people):
    a = world.a
    off, back_on = await new_key(a), await new_key(a)
    for ident in (off, back_on):
        await ApiKey.filter(id=ident).update(leaked_at=ago(2), leak_url="https://github.com/x/y/blob/main/.env", active=False, deactivated_reason="leaked", deactivated_at=ago(2))
    await ApiKey.filter(id=back_on).update(active=True)

    result = await checklist(client, people, world)
    item = next(i for i in result["items"] if i["kind"] == "LEAKED_KEYS")
    found = {f["key"]["id"]: f for f in item["findings"]}
    assert set(found) == {off, back_on} and item["openCount"] == 1
    assert found[off]["open"] is False and found[off]["fixes"] == ["REVIEW_BLAST_RADIUS"]
    assert found[back_on]["open"] is True and found[back_on]["fixes"] == ["DEACTIVATE", "REVIEW_BLAST_RADIUS"]
    assert found[off]["leakUrl"] == "https://github.com/x/y/blob/main/.env"
    assert found[off]["evidence"][0] == f"reported leaked on {ago(2).date().isoformat()} at https://github.com/x/y/blob/main/.env"


async def test_idle_deactivated_keys_are_informational(client, world, people):
    a = world.a
    idle, manual = await new_key(a, created_days_ago=100), await new_key(a, created_days_ago=100)
    await ApiKey.filter(id=idle).update(active=False, deactivated_reason="idle", deactivated_at=ago(1), last_used_at=ago(95))
    await ApiKey.filter(id=manual).update(active=False, deactivated_reason="manual", deactivated_at=ago(1))
    before = (await checklist(client, people, world))["openCount"]

    found = await findings(client, people, world, "IDLE_DEACTIVATED")
    assert set(found) == {idle}
    assert found[idle]["open"] is False and found[idle]["fixes"] == ["REACTIVATE"]
    assert found[idle]["evidence"] == [f"deactivated on {ago(1).date().isoformat()} by the idle-key policy; last used {ago(95).date().isoformat()}"]
    assert (await checklist(client, people, world))["openCount"] == before


async def test_open_count_adds_up_the_items(client, world, people):
    result = await checklist(client, people, world)
    assert result["openCount"] == sum(item["openCount"] for item in result["items"]) == 2  # world's two revealed keys
    assert [i["kind"] for i in result["items"]] == [
        "LEAKED_KEYS", "SHARED_KEYS", "TEST_BEFORE_LIVE", "PLAIN_TEXT_HANDOVER", "UNUSED_KEYS", "EXCESS_PERMISSIONS", "IDLE_DEACTIVATED",
    ]


# --- fixes -----------------------------------------------------------------------------------------

DEACTIVATE_ALL = "mutation($ids: [ID!]!) { deactivateKeys(ids: $ids) { id status } }"


async def test_deactivate_all_listed_clears_the_item_and_audits_each(client, world, people):
    a = world.a
    listed = [await new_key(a, created_days_ago=20) for _ in range(3)]
    assert set(listed) <= set(await findings(client, people, world, "UNUSED_KEYS"))

    data = await gql_as_ok(client, people.admin.token, DEACTIVATE_ALL, {"ids": listed})
    assert [k["status"] for k in data["deactivateKeys"]] == ["DEACTIVATED"] * 3
    assert not set(listed) & set(await findings(client, people, world, "UNUSED_KEYS"))
    events = await AuditEvent.filter(action="key.deactivate", target_id__in=listed).values_list("target_id", "actor")
    assert sorted(events) == sorted((k, people.admin.user_id) for k in listed)


async def test_deactivate_all_is_all_or_nothing(client, world, people):
    mine = await new_key(world.a)
    theirs = await key_id(world.b.keys["test"])
    for token, want in ((people.admin.token, "NOT_FOUND"), (people.viewer.token, "FORBIDDEN")):
        body = (await gql_as(client, token, DEACTIVATE_ALL, {"ids": [mine, theirs] if want == "NOT_FOUND" else [mine]})).json()
        assert error_codes(body) == [want], body
    assert (await ApiKey.get(id=mine)).active and (await ApiKey.get(id=theirs)).active
    assert not await AuditEvent.filter(action="key.deactivate").exists()
    body = (await gql_as(client, people.admin.token, DEACTIVATE_ALL, {"ids": []})).json()
    assert error_codes(body) == ["VALIDATION_FAILED"]


async def test_reduce_to_what_was_used_clears_excess(client, world, people):
    ident = await new_key(world.a, created_days_ago=40)
    await shape(ident, TODAY, "create", "amount,customer", 4)
    await shape(ident, TODAY - timedelta(days=1), "read", "", 2)
    data = await gql_as_ok(
        client, people.admin.token,
        "mutation($id: ID!) { reduceKeyPermissions(id: $id) { key { permissions writableFields } dryRun { requests wouldRefuse } } }",
        {"id": ident},
    )
    assert data["reduceKeyPermissions"] == {"key": {"permissions": ["CREATE", "READ"], "writableFields": ["amount", "customer"]}, "dryRun": {"requests": 6, "wouldRefuse": 0}}
    assert ident not in await findings(client, people, world, "EXCESS_PERMISSIONS")
    event = await AuditEvent.get(action="key.permissions", target_id=ident)
    assert event.actor == people.admin.user_id and event.before["permissions"] == ["create", "delete", "read", "update"]
    assert event.after["permissions"] == ["create", "read"] and event.after["writable_fields"] == ["amount", "customer"]


async def test_replace_with_claim_link_ends_the_revealed_secret(client, world, people):
    a = world.a
    secret = a.keys["test"]
    ident = await key_id(secret)
    replace = "mutation($id: ID!, $grace: RollGrace!) { replaceWithClaimLink(id: $id, grace: $grace) { claimUrl secret key { id status handover } } }"
    body = (await gql_as(client, people.viewer.token, replace, {"id": ident, "grace": "NONE"})).json()
    assert error_codes(body) == ["FORBIDDEN"]

    data = (await gql_as_ok(client, people.admin.token, replace, {"id": ident, "grace": "NONE"}))["replaceWithClaimLink"]
    assert data["secret"] is None and "/claim/" in data["claimUrl"]
    assert data["key"]["status"] == "UNCLAIMED" and data["key"]["handover"] == "CLAIM"
    # The revealed secret stops at once (grace NONE); the partner mints a new one through the link.
    assert error_codes((await gql(client, secret, "{ viewer { kind } }")).json()) == ["UNAUTHENTICATED"]
    assert ident not in await findings(client, people, world, "PLAIN_TEXT_HANDOVER")
    assert await AuditEvent.filter(action="key.handover_by_link", target_id=ident, actor=people.admin.user_id).exists()
    assert await AuditEvent.filter(action="key.claim_link", target_id=ident).exists()
    _, plaintext = await key_service.claim(data["claimUrl"].rsplit("/", 1)[1], Settings(secret_key=SECRET), CLI)
    assert "errors" not in (await gql(client, plaintext, "{ viewer { kind } }")).json()
    # Claimed: no longer a plain-text finding, and a second replacement is for a claimed key like any other.
    assert ident not in await findings(client, people, world, "PLAIN_TEXT_HANDOVER")


async def test_replace_with_claim_link_keeps_the_old_secret_for_the_grace(client, world, people):
    secret = world.a.keys["live"]
    ident = await key_id(secret)
    await gql_as_ok(client, people.admin.token, "mutation($id: ID!) { replaceWithClaimLink(id: $id, grace: ONE_HOUR) { key { previousSecretExpiresAt } } }", {"id": ident})
    assert "errors" not in (await gql(client, secret, "{ viewer { kind } }")).json()
    key = await ApiKey.get(id=ident)
    assert key.key_hash is None and key.previous_expires_at > NOW + timedelta(minutes=59)


async def test_new_claim_link_clears_an_expired_one(client, world, people):
    ident, _ = await claim_key(world.a)
    await ClaimLink.filter(key_id=ident).update(expires_at=ago(1))
    assert ident in await findings(client, people, world, "PLAIN_TEXT_HANDOVER")
    await gql_as_ok(client, people.admin.token, "mutation($id: ID!) { createClaimLink(id: $id) { claimUrl } }", {"id": ident})
    assert ident not in await findings(client, people, world, "PLAIN_TEXT_HANDOVER")
    body = (await gql_as(client, people.admin.token, "mutation($id: ID!) { replaceWithClaimLink(id: $id, grace: NONE) { claimUrl } }", {"id": ident})).json()
    assert error_codes(body) == ["VALIDATION_FAILED"]


# --- safety settings -------------------------------------------------------------------------------

SETTINGS = "mutation($ws: ID!, $input: SafetySettingsInput!) { setSafetySettings(workspace: $ws, input: $input) { sharedKeyClients unusedKeyDays unusedPermissionDays idleKeyDays } }"


async def test_safety_settings_change_validate_and_audit(client, world, people):
    ws = world.a.workspace
    data = await gql_as_ok(client, people.admin.token, SETTINGS, {"ws": ws, "input": {"idleKeyDays": 90, "unusedKeyDays": 45}})
    assert data["setSafetySettings"] == {"sharedKeyClients": 3, "unusedKeyDays": 45, "unusedPermissionDays": 30, "idleKeyDays": 90}
    event = await AuditEvent.get(action="workspace.safety_settings", target_id=ws)
    assert event.before["idle_key_days"] is None and event.after["idle_key_days"] == 90 and event.actor == people.admin.user_id

    # Left out: unchanged; null: the idle policy off.
    data = await gql_as_ok(client, people.owner.token, SETTINGS, {"ws": ws, "input": {"idleKeyDays": None}})
    assert data["setSafetySettings"]["idleKeyDays"] is None and data["setSafetySettings"]["unusedKeyDays"] == 45

    for bad, field in (({"sharedKeyClients": 0}, "sharedKeyClients"), ({"unusedPermissionDays": 401}, "unusedPermissionDays"),
                       ({"idleKeyDays": 0}, "idleKeyDays"), ({"unusedKeyDays": None}, "unusedKeyDays")):
        body = (await gql_as(client, people.admin.token, SETTINGS, {"ws": ws, "input": bad})).json()
        assert error_codes(body) == ["VALIDATION_FAILED"] and field in body["errors"][0]["extensions"]["fields"], body
    body = (await gql_as(client, people.viewer.token, SETTINGS, {"ws": ws, "input": {"idleKeyDays": 5}})).json()
    assert error_codes(body) == ["FORBIDDEN"]
    body = (await gql_as(client, people.owner_b.token, SETTINGS, {"ws": ws, "input": {"idleKeyDays": 5}})).json()
    assert error_codes(body) == ["NOT_FOUND"]
    body = (await gql(client, world.a.keys["test"], SETTINGS, {"ws": ws, "input": {"idleKeyDays": 5}})).json()
    assert error_codes(body) == ["FORBIDDEN"]
    assert await AuditEvent.filter(action="workspace.safety_settings").count() == 2
    read = await gql_as_ok(client, people.viewer.token, "query($ws: ID!) { workspace(id: $ws) { safetySettings { unusedKeyDays idleKeyDays } } }", {"ws": ws})
    assert read["workspace"]["safetySettings"] == {"unusedKeyDays": 45, "idleKeyDays": None}


# --- reading it ------------------------------------------------------------------------------------


async def test_checklist_refusals(client, world, people):
    query = "query($ws: ID!) { workspace(id: $ws) { checklist { openCount } } }"
    assert error_codes((await gql_as(client, people.owner_b.token, query, {"ws": world.a.workspace})).json()) == ["NOT_FOUND"]
    assert error_codes((await gql(client, world.a.keys["test"], query, {"ws": world.a.workspace})).json()) == ["FORBIDDEN"]


async def busy_workspace(tenant, n: int) -> None:
    for i in range(n):
        ident = await new_key(tenant, env="live" if i % 2 else "test", created_days_ago=40)
        await clients_on(ident, TODAY, 5)
        await shape(ident, TODAY, "create", "amount", 2)
        await ApiKey.filter(id=ident).update(last_used_at=ago(35))
        claimed, _ = await claim_key(tenant)
        await ClaimLink.filter(key_id=claimed).update(expires_at=ago(1))


async def test_checklist_uses_a_fixed_number_of_queries(client, world, people, sent_statements):
    query = CHECKLIST.replace("key { id status }", "key { id status partner { name } endpoint { name } usesLast30Days }")
    counts = []
    for n in (2, 8):
        await busy_workspace(world.a, n)
        sent_statements.clear()
        data = await gql_as_ok(client, people.viewer.token, query, {"ws": world.a.workspace})
        counts.append(len(sent_statements))
        assert data["workspace"]["checklist"]["openCount"] > 3 * n
    assert counts[0] == counts[1], counts
