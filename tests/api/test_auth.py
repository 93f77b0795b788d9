"""Authentication on /graphql: who gets in, with which answer, and that refusals write nothing.

DESIGN.md, Keys and the error table: no key, a malformed key, a bad checksum and
an unknown key are all 401 UNAUTHENTICATED with the same body; a known key that
is off or past its expiry is 401 KEY_DISABLED / KEY_EXPIRED; keys are accepted
only in the Authorization header, never in a URL.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from server import keys
from server.keys import ALPHABET, Environment
from server.models import ApiKey, Record
from server.policy import OPERATOR
from server.services import keys as key_service
from server.services.audit import CLI
from tests.conftest import (
    CREATE_ID_ONLY,
    LIST,
    ORDER,
    error_codes,
    gql,
    gql_ok,
    issue,
    key_id,
)


def _flip(ch: str) -> str:
    return ALPHABET[(ALPHABET.index(ch) + 1) % len(ALPHABET)]


def _change_char(key: str, index: int) -> str:
    return key[:index] + _flip(key[index]) + key[index + 1 :]


async def _post(client, world, headers: dict[str, str], url: str = "/graphql"):
    body = {"query": CREATE_ID_ONLY, "variables": {"endpoint": world.a.orders, "data": ORDER}}
    return await client.post(url, json=body, headers=headers)


def _assert_refused(response, code: str) -> dict:
    assert response.status_code == 401, response.text
    body = response.json()
    assert error_codes(body) == [code], body
    assert "data" not in body, body
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer"), response.headers
    return body


# --- UNAUTHENTICATED: no usable key ---------------------------------------------------


def _bad_headers(world) -> dict[str, dict[str, str]]:
    real = world.a.keys["test"]
    never_issued = keys.generate(Environment.TEST)
    return {
        "missing": {},
        "empty": {"Authorization": ""},
        "bearer-no-credentials": {"Authorization": "Bearer "},
        "basic-scheme": {"Authorization": f"Basic {real}"},
        "token-scheme": {"Authorization": f"Token {real}"},
        "no-scheme": {"Authorization": real},
        "malformed-garbage": {"Authorization": "Bearer not-a-key"},
        "malformed-wrong-prefix": {"Authorization": "Bearer " + "tm_prod_" + real[8:]},
        "malformed-too-short": {"Authorization": "Bearer " + real[:-1]},
        "malformed-too-long": {"Authorization": "Bearer " + real + "0"},
        "malformed-bad-char": {"Authorization": "Bearer " + real[:20] + "-" + real[21:]},
        "wrong-checksum-in-random-part": {"Authorization": "Bearer " + _change_char(real, 15)},
        "wrong-checksum-in-checksum": {"Authorization": "Bearer " + _change_char(real, len(real) - 1)},
        "test-key-relabelled-live": {"Authorization": "Bearer " + real.replace("tm_test_", "tm_live_", 1)},
        "never-issued": {"Authorization": f"Bearer {never_issued}"},
    }


CASES = [
    "missing", "empty", "bearer-no-credentials", "basic-scheme", "token-scheme", "no-scheme",
    "malformed-garbage", "malformed-wrong-prefix", "malformed-too-short", "malformed-too-long",
    "malformed-bad-char", "wrong-checksum-in-random-part", "wrong-checksum-in-checksum",
    "test-key-relabelled-live", "never-issued",
]


@pytest.mark.parametrize("case", CASES)
async def test_unusable_credentials_are_401_unauthenticated_and_write_nothing(client, world, case):
    response = await _post(client, world, _bad_headers(world)[case])
    _assert_refused(response, "UNAUTHENTICATED")
    assert await Record.all().count() == 0


async def test_never_issued_key_really_has_a_valid_shape_and_checksum(world):
    candidate = keys.generate(Environment.LIVE)
    assert keys.parse(candidate) is not None
    assert not await ApiKey.filter(key_hash=keys.hash_key(candidate, "test-secret-not-for-production")).exists()


async def test_changed_char_key_fails_its_checksum():
    real = keys.generate(Environment.TEST)
    assert keys.parse(_change_char(real, 15)) is None
    assert keys.parse(_change_char(real, len(real) - 1)) is None


async def test_malformed_bad_checksum_and_unknown_keys_get_identical_bodies(client, world):
    headers = _bad_headers(world)
    bodies = {}
    for case in ("missing", "malformed-garbage", "wrong-checksum-in-random-part", "never-issued", "basic-scheme"):
        bodies[case] = _assert_refused(await _post(client, world, headers[case]), "UNAUTHENTICATED")
    assert bodies["malformed-garbage"] == bodies["never-issued"] == bodies["wrong-checksum-in-random-part"]
    assert bodies["missing"] == bodies["never-issued"] == bodies["basic-scheme"]


async def test_bearer_scheme_is_case_insensitive(client, world):
    response = await _post(client, world, {"Authorization": f"bearer {world.a.keys['test']}"})
    assert response.status_code == 200 and "errors" not in response.json(), response.text


async def test_valid_key_succeeds_and_200_has_no_www_authenticate(client, world):
    response = await _post(client, world, {"Authorization": f"Bearer {world.a.keys['test']}"})
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    assert "www-authenticate" not in response.headers
    assert await Record.all().count() == 1


# --- keys in the URL ---------------------------------------------------------------------


def _url_queries(world) -> list[str]:
    real = world.a.keys["test"]
    return [
        f"api_key={real}",
        f"apikey={real}",
        f"key={real}",
        f"token={real}",
        f"access_token={real}",
        f"query=%7B__typename%7D&x={real}",
        f"x={real.replace('_', '%5F')}",
        "authorization=Bearer+whatever",
    ]


@pytest.mark.parametrize("index", range(8))
async def test_key_like_query_string_is_refused_even_with_a_valid_header(client, world, index):
    query = _url_queries(world)[index]
    response = await _post(client, world, {"Authorization": f"Bearer {world.a.keys['test']}"}, url=f"/graphql?{query}")
    _assert_refused(response, "UNAUTHENTICATED")
    assert await Record.all().count() == 0


async def test_key_in_url_is_refused_on_get_too(client, world):
    real = world.a.keys["test"]
    response = await client.get(
        "/graphql", params={"query": "{ __typename }", "api_key": real}, headers={"Authorization": f"Bearer {real}"}
    )
    _assert_refused(response, "UNAUTHENTICATED")


async def test_message_about_key_in_url_does_not_echo_the_key(client, world):
    real = world.a.keys["test"]
    response = await _post(client, world, {"Authorization": f"Bearer {real}"}, url=f"/graphql?api_key={real}")
    assert real not in response.text and real[8:] not in response.text


# --- KEY_DISABLED and KEY_EXPIRED ------------------------------------------------------


async def test_deactivated_key_is_key_disabled_then_works_on_the_next_request_after_reactivation(client, world):
    key = world.a.keys["test"]
    await gql_ok(client, key, CREATE_ID_ONLY, {"endpoint": world.a.orders, "data": ORDER})
    the_id = await key_id(key)

    await key_service.set_active(OPERATOR, the_id, False, CLI)
    _assert_refused(await _post(client, world, {"Authorization": f"Bearer {key}"}), "KEY_DISABLED")
    refused_read = await gql(client, key, LIST, {"endpoint": world.a.orders})
    _assert_refused(refused_read, "KEY_DISABLED")
    assert await Record.all().count() == 1

    await key_service.set_active(OPERATOR, the_id, True, CLI)
    await gql_ok(client, key, CREATE_ID_ONLY, {"endpoint": world.a.orders, "data": ORDER})
    assert await Record.all().count() == 2


async def test_deactivating_one_key_leaves_the_others_working(client, world):
    await key_service.set_active(OPERATOR, await key_id(world.a.keys["test"]), False, CLI)
    await gql_ok(client, world.a.keys["live"], CREATE_ID_ONLY, {"endpoint": world.a.orders, "data": ORDER})
    await gql_ok(client, world.b.keys["test"], CREATE_ID_ONLY, {"endpoint": world.b.orders, "data": ORDER})


async def test_disabled_body_differs_from_unauthenticated_only_by_code_and_message(client, world):
    key = world.a.keys["test"]
    await key_service.set_active(OPERATOR, await key_id(key), False, CLI)
    body = _assert_refused(await _post(client, world, {"Authorization": f"Bearer {key}"}), "KEY_DISABLED")
    assert key not in str(body)


async def _expire(key: str) -> None:
    updated = await ApiKey.filter(id=await key_id(key)).update(expires_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    assert updated == 1


async def test_key_with_future_expiry_works(client, world):
    key = await issue(world.a, expires_at=datetime.now(timezone.utc) + timedelta(hours=1))
    await gql_ok(client, key, CREATE_ID_ONLY, {"endpoint": world.a.orders, "data": ORDER})


async def test_expired_key_is_key_expired_and_writes_nothing(client, world):
    key = await issue(world.a, expires_at=datetime.now(timezone.utc) + timedelta(hours=1))
    await _expire(key)
    _assert_refused(await _post(client, world, {"Authorization": f"Bearer {key}"}), "KEY_EXPIRED")
    _assert_refused(await gql(client, key, LIST, {"endpoint": world.a.orders}), "KEY_EXPIRED")
    assert await Record.all().count() == 0


async def test_disabled_is_reported_before_expired(client, world):
    """Verification order: active is checked before expiry."""
    key = await issue(world.a, expires_at=datetime.now(timezone.utc) + timedelta(hours=1))
    await _expire(key)
    await key_service.set_active(OPERATOR, await key_id(key), False, CLI)
    _assert_refused(await _post(client, world, {"Authorization": f"Bearer {key}"}), "KEY_DISABLED")


async def test_url_key_is_refused_before_the_header_key_is_checked(client, world):
    """Cheapest first: even a disabled header key yields the key-in-URL refusal, not KEY_DISABLED."""
    key = world.a.keys["test"]
    await key_service.set_active(OPERATOR, await key_id(key), False, CLI)
    response = await _post(client, world, {"Authorization": f"Bearer {key}"}, url=f"/graphql?api_key={key}")
    _assert_refused(response, "UNAUTHENTICATED")
