"""A key's whole life through the management API (issue 3, items 3 and 4, and "Bad input").

Reveal once, claim by link (unclaimed, claimed, second visit, expired,
deactivated), deactivate / reactivate, roll with and without grace, delete,
permissions and expiry: each effective on the very next request.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from server.errors import NotFound
from server.keys import hash_key
from server.models import ApiKey, ClaimLink
from server.services import keys as key_service
from server.services.audit import Actor
from tests.conftest import LIST, SECRET, error_codes, gql, issue, key_id
from tests.postgres import ON_POSTGRES, every_row_as_text
from tests.people import gql_as, gql_as_ok, people_fixture, snapshot  # noqa: F401  (the fixture `people`)

VIEWER = "{ viewer { kind key { id } } }"
ISSUE = """mutation($input: IssueKeyInput!) {
  issueKey(input: $input) { secret claimUrl key { id status display handover permissions } } }"""
KEY = "query($id: ID!) { key(id: $id) { id display status handover permissions readableFields writableFields expiresAt previousSecretExpiresAt } }"
ROLL = "mutation($id: ID!, $grace: RollGrace!) { rollKey(id: $id, grace: $grace) { secret key { id previousSecretExpiresAt } } }"
SWITCH = "mutation($id: ID!) {{ {}(id: $id) {{ id status }} }}"
SET = "mutation($id: ID!, $input: KeyPermissionsInput!) { setKeyPermissions(id: $id, input: $input) { id permissions readableFields writableFields expiresAt } }"
PARTNER = Actor("partner", "203.0.113.9", "curl/8")


def _input(world, **overrides: Any) -> dict[str, Any]:
    a = world.a
    return {"workspace": a.workspace, "partner": a.acme, "endpoint": a.orders, "environment": "TEST", "permissions": ["CREATE", "READ"]} | overrides


async def status_of(client, key: str | None) -> tuple[int, str | None]:
    """(HTTP status, error code or None) of the cheapest request a key can make."""
    response = await gql(client, key, VIEWER)
    codes = error_codes(response.json())
    return response.status_code, codes[0] if codes else None


OK = (200, None)
DISABLED = (401, "KEY_DISABLED")
EXPIRED = (401, "KEY_EXPIRED")
UNKNOWN = (401, "UNAUTHENTICATED")


async def mutate(client, people, query: str, **variables: Any) -> dict[str, Any]:
    return await gql_as_ok(client, people.admin.token, query, variables)


async def test_reveal_returns_the_secret_once_and_stores_only_its_hash(client, world, people, settings):
    issued = (await mutate(client, people, ISSUE, input=_input(world)))["issueKey"]
    secret, ident = issued["secret"], issued["key"]["id"]
    assert secret.startswith("tm_test_") and issued["claimUrl"] is None
    assert issued["key"]["status"] == "ACTIVE" and issued["key"]["display"].endswith(secret[-4:])
    assert await status_of(client, secret) == OK

    assert (await ApiKey.get(id=ident)).key_hash == hash_key(secret, SECRET)
    if ON_POSTGRES:
        assert secret not in await every_row_as_text()
    else:
        database = Path(settings.database_url.removeprefix("sqlite://"))
        for path in database.parent.glob(database.name + "*"):  # the file and any -wal / -journal
            assert secret.encode() not in path.read_bytes(), path
    later = await gql_as(client, people.viewer.token, KEY, {"id": ident})
    assert later.json()["data"]["key"]["id"] == ident and secret not in later.text and secret[8:-6] not in later.text


async def claim_url_key(client, world, people) -> tuple[str, str]:
    issued = (await mutate(client, people, ISSUE, input=_input(world, handover="CLAIM")))["issueKey"]
    assert issued["secret"] is None and issued["claimUrl"]
    return issued["key"]["id"], issued["claimUrl"].rsplit("/", 1)[-1]


async def test_claim_link_mints_a_working_key_once(client, world, people, settings):
    ident, token = await claim_url_key(client, world, people)
    key = (await gql_as_ok(client, people.viewer.token, KEY, {"id": ident}))["key"]
    assert key["status"] == "UNCLAIMED" and key["handover"] == "CLAIM" and "????" in key["display"]
    assert (await ApiKey.get(id=ident)).key_hash is None  # nothing could authenticate as it

    minted, secret = await key_service.claim(token, settings, PARTNER)
    assert minted.id == ident and secret.startswith("tm_test_")
    assert await status_of(client, secret) == OK
    key = (await gql_as_ok(client, people.viewer.token, KEY, {"id": ident}))["key"]
    assert key["status"] == "ACTIVE" and key["display"].endswith(secret[-4:])

    with pytest.raises(NotFound):
        await key_service.claim(token, settings, PARTNER)
    assert (await ApiKey.get(id=ident)).key_hash == hash_key(secret, SECRET)  # the second visit minted nothing
    assert await status_of(client, secret) == OK


async def test_expired_claim_link_reveals_nothing(client, world, people, settings):
    ident, token = await claim_url_key(client, world, people)
    await ClaimLink.filter(key_id=ident).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(NotFound):
        await key_service.claim(token, settings, PARTNER)
    assert (await ApiKey.get(id=ident)).key_hash is None


async def test_a_deactivated_keys_link_reveals_nothing(client, world, people, settings):
    ident, token = await claim_url_key(client, world, people)
    await mutate(client, people, SWITCH.format("deactivateKey"), id=ident)
    with pytest.raises(NotFound):
        await key_service.claim(token, settings, PARTNER)
    assert (await ApiKey.get(id=ident)).key_hash is None


async def test_a_new_claim_link_ends_the_old_one(client, world, people, settings):
    ident, old = await claim_url_key(client, world, people)
    new = (await mutate(client, people, "mutation($id: ID!) { createClaimLink(id: $id) { claimUrl secret } }", id=ident))["createClaimLink"]
    assert new["secret"] is None
    with pytest.raises(NotFound):
        await key_service.claim(old, settings, PARTNER)
    _, secret = await key_service.claim(new["claimUrl"].rsplit("/", 1)[-1], settings, PARTNER)
    assert await status_of(client, secret) == OK


async def test_deactivate_and_reactivate_on_the_next_request(client, world, people):
    secret = world.a.keys["test"]
    ident = await key_id(secret)
    assert (await mutate(client, people, SWITCH.format("deactivateKey"), id=ident))["deactivateKey"]["status"] == "DEACTIVATED"
    assert await status_of(client, secret) == DISABLED
    assert (await mutate(client, people, SWITCH.format("reactivateKey"), id=ident))["reactivateKey"]["status"] == "ACTIVE"
    assert await status_of(client, secret) == OK


async def test_roll_without_grace_ends_the_old_secret_at_once(client, world, people):
    old = world.a.keys["test"]
    ident = await key_id(old)
    rolled = (await mutate(client, people, ROLL, id=ident, grace="NONE"))["rollKey"]
    assert rolled["key"]["id"] == ident and rolled["key"]["previousSecretExpiresAt"] is None
    assert await status_of(client, old) == UNKNOWN
    assert await status_of(client, rolled["secret"]) == OK


async def test_roll_with_grace_keeps_the_old_secret_until_the_grace_ends(client, world, people):
    old = world.a.keys["test"]
    ident = await key_id(old)
    rolled = (await mutate(client, people, ROLL, id=ident, grace="ONE_HOUR"))["rollKey"]
    ends = datetime.fromisoformat(rolled["key"]["previousSecretExpiresAt"])
    assert timedelta(minutes=59) < ends - datetime.now(UTC) <= timedelta(hours=1)
    assert await status_of(client, old) == OK
    assert await status_of(client, rolled["secret"]) == OK

    await ApiKey.filter(id=ident).update(previous_expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert await status_of(client, old) == EXPIRED
    assert await status_of(client, rolled["secret"]) == OK


async def test_a_second_roll_during_grace_ends_the_oldest_secret(client, world, people):
    first = world.a.keys["test"]
    ident = await key_id(first)
    second = (await mutate(client, people, ROLL, id=ident, grace="ONE_DAY"))["rollKey"]["secret"]
    third = (await mutate(client, people, ROLL, id=ident, grace="SEVEN_DAYS"))["rollKey"]["secret"]
    assert [await status_of(client, s) for s in (first, second, third)] == [UNKNOWN, OK, OK]


async def test_delete_is_permanent(client, world, people):
    secret = world.a.keys["test"]
    ident = await key_id(secret)
    assert (await mutate(client, people, "mutation($id: ID!) { deleteKey(id: $id) }", id=ident))["deleteKey"] == ident
    assert await status_of(client, secret) == UNKNOWN
    body = (await gql_as(client, people.owner.token, KEY, {"id": ident})).json()
    assert error_codes(body) == ["NOT_FOUND"] and body["data"] is None
    assert not await ApiKey.exists(id=ident)


async def test_permissions_apply_on_the_next_request(client, world, people):
    secret, orders = world.a.keys["test"], world.a.orders
    ident = await key_id(secret)
    assert "errors" not in (await gql(client, secret, LIST, {"endpoint": orders})).json()
    changed = (await mutate(client, people, SET, id=ident, input={"permissions": ["CREATE"], "writableFields": ["customer", "amount"]}))["setKeyPermissions"]
    assert changed["permissions"] == ["CREATE"] and changed["writableFields"] == ["amount", "customer"]
    assert error_codes((await gql(client, secret, LIST, {"endpoint": orders})).json()) == ["FORBIDDEN"]
    await mutate(client, people, SET, id=ident, input={"permissions": ["READ", "CREATE"]})
    assert "errors" not in (await gql(client, secret, LIST, {"endpoint": orders})).json()


async def test_an_expired_key_gets_key_expired(client, world, people):
    secret = world.a.keys["test"]
    ident = await key_id(secret)
    soon = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert (await mutate(client, people, SET, id=ident, input={"permissions": ["READ"], "expiresAt": soon}))["setKeyPermissions"]["expiresAt"]
    assert await status_of(client, secret) == OK
    await ApiKey.filter(id=ident).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert await status_of(client, secret) == EXPIRED
    assert (await gql_as_ok(client, people.viewer.token, KEY, {"id": ident}))["key"]["status"] == "EXPIRED"


PAST = (datetime.now(UTC) - timedelta(days=1)).isoformat()
BAD_GRANTS = [
    ({"permissions": []}, "permissions"),
    ({"readableFields": ["customer", "shoe_size"]}, "readableFields"),
    ({"writableFields": ["password"]}, "writableFields"),
    ({"expiresAt": PAST}, "expiresAt"),
]


@pytest.mark.parametrize(("change", "field"), BAD_GRANTS, ids=[f for _, f in BAD_GRANTS])
@pytest.mark.parametrize("operation", ["issueKey", "setKeyPermissions"])
async def test_bad_grant_is_validation_failed_naming_the_field(client, world, people, operation, change, field):
    ident = await key_id(world.a.keys["test"])
    if operation == "issueKey":
        query, variables = ISSUE, {"input": _input(world, **change)}
    else:
        query, variables = SET, {"id": ident, "input": {"permissions": ["READ"]} | change}
    before = await snapshot()
    body = (await gql_as(client, people.admin.token, query, variables)).json()
    assert error_codes(body) == ["VALIDATION_FAILED"], body
    assert field in body["errors"][0]["extensions"]["fields"], body
    assert body["data"] is None
    assert await snapshot() == before


INLINE_ROLL = 'mutation($id: ID!) { rollKey(id: $id, grace: TWO_HOURS) { secret } }'


@pytest.mark.parametrize(
    ("query", "variables", "bad", "code", "named"),
    [
        (ROLL, {"grace": "TWO_HOURS"}, "TWO_HOURS", "VALIDATION_FAILED", "grace"),
        (SET, {"input": {"permissions": ["READ", "FLY"]}}, "FLY", "VALIDATION_FAILED", "permissions"),
        (SET, {"input": {"permissions": ["READ"], "rowScope": "SOME"}}, "SOME", "VALIDATION_FAILED", "rowScope"),
        (INLINE_ROLL, {}, "TWO_HOURS", "GRAPHQL_VALIDATION_FAILED", None),
    ],
    ids=["grace-not-offered", "unknown-permission", "unknown-row-scope", "grace-literal"],
)
async def test_a_value_not_offered_is_refused_before_execution(client, world, people, query, variables, bad, code, named):
    """The schema's enums refuse it before any resolver runs; a variable's error names the field."""
    ident = await key_id(world.a.keys["test"])
    before = await snapshot()
    response = await gql_as(client, people.admin.token, query, {"id": ident} | variables)
    body = response.json()
    assert response.status_code == 200 and "data" not in body, body  # nothing was executed
    [error] = body["errors"]
    assert "path" not in error and bad in error["message"], body
    assert error["extensions"]["code"] == code, body
    if named:
        assert list(error["extensions"]["fields"]) == [named], body
    assert await snapshot() == before
    assert await status_of(client, world.a.keys["test"]) == OK


@pytest.mark.parametrize(("mutation", "target"), [("archiveEndpoint", "orders"), ("archivePartner", "acme")])
async def test_archiving_disables_the_keys(client, world, people, mutation, target):
    secret, other = world.a.keys["test"], await issue(world.a, endpoint=world.a.leads, partner=world.a.globex)
    await gql_as_ok(client, people.owner.token, f"mutation($id: ID!) {{ {mutation}(id: $id) {{ id archivedAt }} }}", {"id": getattr(world.a, target)})
    assert await status_of(client, secret) == DISABLED
    assert await status_of(client, world.a.keys["live"]) == DISABLED
    assert await status_of(client, other) == OK  # a key of another partner and endpoint still works

