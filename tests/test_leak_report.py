"""POST /leaks/github: GitHub's secret-scanning reports, signed with a key pair made here.

Signed reports of real keys turn them off and say where they leaked;
look-alikes and unknown keys change nothing; unsigned, forged or altered
reports are refused before the database is touched (every table compared).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from tortoise.context import require_context

from server import keys
from server.app import create_app
from server.keys import Environment
from server.leak_report import load_public_keys
from server.models import ApiKey, AuditEvent
from server.policy import OPERATOR
from server.services import keys as key_service
from server.services.audit import CLI
from server.settings import Settings
from tests.conftest import SECRET, gql, key_id
from tests.postgres import table_names

KEY_ID = "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c"
OLD_KEY_ID = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a"
URL = "https://github.com/octo/app/blob/abc123/config.env"
# Stand-ins for GitHub's signing keys: the current one and one it is rotating out.
GITHUB = ec.generate_private_key(ec.SECP256R1())
RETIRED = ec.generate_private_key(ec.SECP256R1())


def pem(private: ec.EllipticCurvePrivateKey) -> str:
    return private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture
def settings(settings: Settings, tmp_path) -> Settings:
    """The conftest settings plus a keys file as GitHub's API serves it (one key current, one not)."""
    path = tmp_path / "github-keys.json"
    listed = [{"key_identifier": KEY_ID, "key": pem(GITHUB), "is_current": True}, {"key_identifier": OLD_KEY_ID, "key": pem(RETIRED), "is_current": False}]
    path.write_text(json.dumps({"public_keys": listed}))
    return settings.replace(github_scanning_keys_file=str(path))


def sign(private: ec.EllipticCurvePrivateKey, body: bytes) -> str:
    return base64.b64encode(private.sign(body, ec.ECDSA(hashes.SHA256()))).decode()


def matches(*tokens: str, url: str = URL, source: str = "commit") -> bytes:
    return orjson.dumps([{"token": t, "type": "threemin_api_key", "url": url, "source": source} for t in tokens])


async def report(client: httpx.AsyncClient, body: bytes, private: ec.EllipticCurvePrivateKey, identifier: str = KEY_ID) -> httpx.Response:
    headers = {"Github-Public-Key-Identifier": identifier, "Github-Public-Key-Signature": sign(private, body), "content-type": "application/json"}
    return await client.post("/leaks/github", content=body, headers=headers)


def feedback(token: str, label: str) -> dict[str, str]:
    return {"token_hash": hashlib.sha256(token.encode()).hexdigest(), "token_type": "threemin_api_key", "label": label}


async def refusal(client: httpx.AsyncClient, key: str) -> str | None:
    """The error code the partner API gives this key, None when it works."""
    body = (await gql(client, key, "{ viewer { kind } }")).json()
    return body["errors"][0]["extensions"]["code"] if body.get("errors") else None


async def snapshot() -> dict[str, list[dict[str, Any]]]:
    connection = require_context().db()
    return {name: await connection.execute_query_dict(f'SELECT * FROM "{name}"') for name in await table_names()}


async def leak_events(key: str) -> list[AuditEvent]:
    return await AuditEvent.filter(target_kind="key", target_id=await key_id(key), actor="github-secret-scanning").order_by("seq")


async def assert_no_secret_in_audit(*secrets: str) -> None:
    rows = str([list(row.values()) for row in (await snapshot())["audit_event"]])
    for secret in secrets:
        assert secret not in rows and keys.hash_key(secret, SECRET) not in rows


async def test_a_signed_report_of_a_real_key_deactivates_it_and_records_where(client, world):
    leaked, other = world.a.keys["live"], world.a.keys["test"]
    response = await report(client, matches(leaked, source="content"), GITHUB)
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert response.json() == [feedback(leaked, "true_positive")]
    assert leaked not in response.text
    assert await refusal(client, leaked) == "KEY_DISABLED"
    assert await refusal(client, other) is None  # only the leaked key
    deactivated, sighting = await leak_events(leaked)
    assert (deactivated.action, deactivated.workspace_id) == ("key.deactivate", world.a.workspace)
    assert deactivated.before["active"] is True and deactivated.after["active"] is False
    assert (sighting.action, sighting.workspace_id) == ("key.leaked", world.a.workspace)
    assert sighting.after == {"url": URL, "source": "content", "type": "threemin_api_key", "secret": "current"}
    await assert_no_secret_in_audit(leaked, other)


async def test_a_report_signed_with_a_key_no_longer_current_still_counts(client, world):
    # GitHub may sign with the previous key while it rotates.
    leaked = world.b.keys["test"]
    assert (await report(client, matches(leaked), RETIRED, OLD_KEY_ID)).json() == [feedback(leaked, "true_positive")]
    assert not (await ApiKey.get(id=await key_id(leaked))).active


async def test_look_alikes_and_unknown_keys_are_false_positives_and_change_nothing(client, world):
    real = world.a.keys["live"]
    flipped = real[:20] + ("A" if real[20] != "A" else "B") + real[21:]  # right shape, wrong checksum
    assert keys.parse(flipped) is None
    unknown = keys.generate(Environment.LIVE)  # valid checksum, never issued
    tokens = [flipped, unknown, "tm_live_short", ""]
    before = await snapshot()
    response = await report(client, matches(*tokens), GITHUB)
    assert response.status_code == 200
    assert response.json() == [feedback(t, "false_positive") for t in tokens]
    assert await snapshot() == before
    assert await refusal(client, real) is None


async def test_verdicts_follow_the_report_order(client, world):
    real, unknown = world.a.keys["test"], keys.generate(Environment.TEST)
    answer = (await report(client, matches(unknown, real, world.b.keys["live"]), GITHUB)).json()
    assert answer == [feedback(unknown, "false_positive"), feedback(real, "true_positive"), feedback(world.b.keys["live"], "true_positive")]
    assert (await AuditEvent.get(action="key.leaked", target_id=await key_id(world.b.keys["live"]))).workspace_id == world.b.workspace


async def test_the_same_report_twice_is_harmless_and_logs_each_sighting(client, world):
    leaked = world.a.keys["live"]
    body = matches(leaked)
    for _ in range(2):
        assert (await report(client, body, GITHUB)).json() == [feedback(leaked, "true_positive")]
    actions = [event.action for event in await leak_events(leaked)]
    assert actions == ["key.deactivate", "key.leaked", "key.leaked"]
    assert await refusal(client, leaked) == "KEY_DISABLED"


async def test_a_leaked_previous_secret_deactivates_the_rolled_key(client, world):
    old = world.a.keys["live"]
    ident = await key_id(old)
    rolled = await key_service.roll_key(OPERATOR, ident, key_service.RollGrace.ONE_HOUR, Settings(secret_key=SECRET), CLI)
    assert rolled.secret and await refusal(client, rolled.secret) is None
    assert (await report(client, matches(old), GITHUB)).json() == [feedback(old, "true_positive")]
    assert await refusal(client, rolled.secret) == "KEY_DISABLED"
    sighting = await AuditEvent.get(action="key.leaked", target_id=ident)
    assert sighting.after["secret"] == "previous"
    await assert_no_secret_in_audit(old, rolled.secret)


def _forged(body: bytes, other: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    return {"Github-Public-Key-Identifier": KEY_ID, "Github-Public-Key-Signature": sign(other, body)}


REFUSED = {
    "unsigned": lambda body, key: {},
    "no signature": lambda body, key: {"Github-Public-Key-Identifier": KEY_ID},
    "no identifier": lambda body, key: {"Github-Public-Key-Signature": sign(key, body)},
    "forged": lambda body, key: _forged(body, ec.generate_private_key(ec.SECP256R1())),
    "wrong identifier": lambda body, key: {"Github-Public-Key-Identifier": "not-a-github-key", "Github-Public-Key-Signature": sign(key, body)},
    "right key, other identifier": lambda body, key: {"Github-Public-Key-Identifier": OLD_KEY_ID, "Github-Public-Key-Signature": sign(key, body)},
    "tampered body": lambda body, key: {"Github-Public-Key-Identifier": KEY_ID, "Github-Public-Key-Signature": sign(key, body.replace(b"commit", b"content"))},
    "bad base64": lambda body, key: {"Github-Public-Key-Identifier": KEY_ID, "Github-Public-Key-Signature": "not base64!"},
    "not DER": lambda body, key: {"Github-Public-Key-Identifier": KEY_ID, "Github-Public-Key-Signature": base64.b64encode(b"\x30\x02garbage").decode()},
}


@pytest.mark.parametrize("case", list(REFUSED))
async def test_unsigned_forged_or_altered_reports_are_refused_and_change_nothing(client, world, case):
    leaked = world.a.keys["live"]
    body = matches(leaked)
    before = await snapshot()
    response = await client.post("/leaks/github", content=body, headers=REFUSED[case](body, GITHUB))
    assert response.status_code == 401 and response.json()["error"] == "UNAUTHENTICATED"
    assert leaked not in response.text
    assert await snapshot() == before
    assert await refusal(client, leaked) is None


async def test_without_a_keys_file_every_report_is_refused(settings, world):
    app = create_app(settings.replace(github_scanning_keys_file=""), manage_database=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as bare:
        before = await snapshot()
        assert (await report(bare, matches(world.a.keys["live"]), GITHUB)).status_code == 401
        assert await snapshot() == before


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"token": "x"}', b"[1]", b'[{"token": "x", "type": "t", "url": "u"}]', b'[{"token": 1, "type": "t", "url": "u", "source": "s"}]'],
)
async def test_a_malformed_signed_report_is_400_and_changes_nothing(client, world, body):
    before = await snapshot()
    response = await report(client, body, GITHUB)
    assert response.status_code == 400 and response.json()["error"] == "BAD_REQUEST"
    assert await snapshot() == before


async def test_one_bad_entry_refuses_the_whole_report(client, world):
    leaked = world.a.keys["live"]
    body = orjson.dumps([{"token": leaked, "type": "t", "url": "u", "source": "s"}, {"token": "x"}])
    before = await snapshot()
    assert (await report(client, body, GITHUB)).status_code == 400
    assert await snapshot() == before and await refusal(client, leaked) is None


@pytest.mark.parametrize("streamed", [False, True])
async def test_an_oversized_report_is_413_and_changes_nothing(client, settings, world, streamed):
    body = matches(world.a.keys["live"], url="https://github.com/" + "x" * settings.max_body_bytes)
    headers = {"Github-Public-Key-Identifier": KEY_ID, "Github-Public-Key-Signature": sign(GITHUB, body)}

    async def chunks():  # no Content-Length: the limit is counted while reading
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    before = await snapshot()
    response = await client.post("/leaks/github", content=chunks() if streamed else body, headers=headers)
    assert response.status_code == 413 and response.json()["error"] == "PAYLOAD_TOO_LARGE"
    assert await snapshot() == before


def test_a_broken_keys_file_stops_the_server_naming_the_setting(tmp_path):
    path = tmp_path / "keys.json"
    assert load_public_keys("") == {}
    with pytest.raises(SystemExit, match="THREEMIN_GITHUB_SCANNING_KEYS_FILE.*cannot read"):
        load_public_keys(str(path))
    for broken in ("not json", '{"keys": []}', '{"public_keys": [{"key_identifier": "a", "key": "not a PEM"}]}'):
        path.write_text(broken)
        with pytest.raises(SystemExit, match="THREEMIN_GITHUB_SCANNING_KEYS_FILE"):
            load_public_keys(str(path))
    wrong_curve = ec.generate_private_key(ec.SECP384R1())
    path.write_text(json.dumps({"public_keys": [{"key_identifier": "a", "key": pem(wrong_curve), "is_current": True}]}))
    with pytest.raises(SystemExit, match="not an ECDSA P-256 key"):
        load_public_keys(str(path))
    assert Settings.from_env({"THREEMIN_GITHUB_SCANNING_KEYS_FILE": str(path)}).github_scanning_keys_file == str(path)
