"""The idle-key policy deactivates exactly the keys unused past the limit, and deactivations say why.

Also: manual, leaked and idle deactivations leave their reason and time on
the key, and reactivation clears them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from server.models import ApiKey, AuditEvent, Workspace
from server.policy import OPERATOR
from server.services import idle, leaks
from server.services import keys as key_service
from server.services.audit import CLI
from server.services.leaks import Sighting
from tests.conftest import SECRET, gql, issue, key_id

DAY = timedelta(days=1)


async def aged(plaintext: str, *, issued_days_ago: int, used_days_ago: int | None) -> str:
    """The key's id, issued and last used that many days ago (None: never used)."""
    ident = await key_id(plaintext)
    now = datetime.now(UTC)
    used = None if used_days_ago is None else now - used_days_ago * DAY
    await ApiKey.filter(id=ident).update(created_at=now - issued_days_ago * DAY, last_used_at=used)
    return ident


async def test_the_sweep_deactivates_exactly_the_idle_keys(world):
    a = world.a
    await Workspace.filter(id=a.workspace).update(idle_key_days=30)
    recent = await aged(await issue(a), issued_days_ago=100, used_days_ago=29)
    fresh = await aged(await issue(a), issued_days_ago=29, used_days_ago=None)
    never_used = await aged(await issue(a), issued_days_ago=31, used_days_ago=None)
    long_ago = await aged(await issue(a), issued_days_ago=100, used_days_ago=31)
    already_off = await aged(await issue(a), issued_days_ago=100, used_days_ago=None)
    await key_service.set_active(OPERATOR, already_off, False, CLI)
    policy_off = await aged(world.b.keys["test"], issued_days_ago=100, used_days_ago=None)  # B has no policy
    # The fixture's own keys of A were issued just now: kept.
    fixture_keys = [await key_id(a.keys["test"]), await key_id(a.keys["live"])]

    done = await idle.sweep()

    assert sorted(d.key_id for d in done) == sorted([never_used, long_ago])
    states = {k.id: (k.active, k.deactivated_reason) for k in await ApiKey.all()}
    for kept in (recent, fresh, policy_off, *fixture_keys):
        assert states[kept] == (True, None)
    assert states[never_used] == states[long_ago] == (False, "idle")
    assert states[already_off] == (False, "manual")  # untouched: its reason stays
    assert await ApiKey.filter(id__in=[never_used, long_ago]).count() == 2  # deactivated, never deleted

    events = await AuditEvent.filter(actor="policy").order_by("seq")
    assert sorted(e.target_id for e in events) == sorted([never_used, long_ago])
    by_key = {e.target_id: e for e in events}
    assert {e.action for e in events} == {"key.deactivate"} and {e.workspace_id for e in events} == {a.workspace}
    assert by_key[never_used].after["deactivated_reason"] == "idle" and by_key[never_used].after["last_used_at"] is None
    assert by_key[long_ago].after["last_used_at"] == (await ApiKey.get(id=long_ago)).last_used_at.isoformat()
    assert by_key[long_ago].before["active"] is True and by_key[long_ago].after["active"] is False
    assert by_key[long_ago].after["idle_days"] == 30

    assert await idle.sweep() == []  # once is enough
    assert await AuditEvent.filter(actor="policy").count() == 2


async def test_an_idle_key_is_refused_on_its_next_request(client, world):
    await Workspace.filter(id=world.a.workspace).update(idle_key_days=7)
    await aged(world.a.keys["test"], issued_days_ago=8, used_days_ago=None)
    await idle.sweep()
    body = (await gql(client, world.a.keys["test"], "{ viewer { kind } }")).json()
    assert body["errors"][0]["extensions"]["code"] == "KEY_DISABLED"


async def test_the_limit_is_per_workspace(world):
    await Workspace.filter(id=world.a.workspace).update(idle_key_days=30)
    await Workspace.filter(id=world.b.workspace).update(idle_key_days=90)
    in_a = await aged(world.a.keys["test"], issued_days_ago=60, used_days_ago=40)
    in_b = await aged(world.b.keys["test"], issued_days_ago=60, used_days_ago=40)
    assert [d.key_id for d in await idle.sweep()] == [in_a]
    assert (await ApiKey.get(id=in_b)).active


# --- deactivation facts ---------------------------------------------------------------


async def test_manual_deactivation_says_why_and_reactivation_clears_it(world):
    ident = await key_id(world.a.keys["test"])
    before = datetime.now(UTC)
    key = await key_service.set_active(OPERATOR, ident, False, CLI)
    assert key.deactivated_reason == "manual" and before <= key.deactivated_at <= datetime.now(UTC)
    event = await AuditEvent.filter(action="key.deactivate", target_id=ident).first()
    assert event.after["deactivated_reason"] == "manual" and event.before["deactivated_reason"] is None
    key = await key_service.set_active(OPERATOR, ident, True, CLI)
    stored = await ApiKey.get(id=ident)
    assert (stored.active, stored.deactivated_reason, stored.deactivated_at) == (True, None, None)


async def test_a_leak_report_deactivates_with_reason_and_keeps_where(world):
    plaintext = world.a.keys["live"]
    url = "https://github.com/octo/app/blob/abc/.env?" + "x" * 3000
    await leaks.report([Sighting(plaintext, "threemin_api_key", url, "commit")], SECRET)
    key = await ApiKey.get(id=await key_id(plaintext))
    assert (key.active, key.deactivated_reason) == (False, "leaked")
    assert key.leaked_at is not None and key.deactivated_at is not None
    assert key.leak_url == url[:2048]


async def test_a_leak_of_a_key_already_off_keeps_its_reason_and_records_the_leak(world):
    ident = await key_id(world.a.keys["test"])
    await key_service.set_active(OPERATOR, ident, False, CLI)
    await leaks.report([Sighting(world.a.keys["test"], "threemin_api_key", "https://example.com/paste", "gist")], SECRET)
    key = await ApiKey.get(id=ident)
    assert (key.deactivated_reason, key.leak_url) == ("manual", "https://example.com/paste") and key.leaked_at is not None


# --- the command ------------------------------------------------------------------------


def test_the_command_sweeps_for_cron(tmp_path: Path):
    threemin = str(Path(sys.executable).parent / "threemin")
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREEMIN_")}

    def run(*args: str) -> str:
        result = subprocess.run([threemin, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    demo = json.loads(run("demo", "--json"))
    assert json.loads(run("key", "sweep-idle", "--json")) == {"deactivated": []}  # the policy is off by default
    with sqlite3.connect(tmp_path / "threemin.sqlite3") as db:
        db.execute("UPDATE workspace SET idle_key_days = 1 WHERE id = ?", (demo["workspace"],))
        db.execute("UPDATE api_key SET created_at = '2020-01-01 00:00:00+00:00'")
    swept = json.loads(run("key", "sweep-idle", "--json"))["deactivated"]
    assert len(swept) == 2 and {d["last_used_at"] for d in swept} == {None} and {d["idle_days"] for d in swept} == {1}
    assert run("key", "sweep-idle") == "no idle keys\n"
