"""Revocation seen by another worker process on its very next request (issue 3, item 4).

Two real `threemin serve` processes share one SQLite file. A key is switched
off and on with the operator's command (a third process); the worker that did
not make the change must see it on the next request: no key cache may hold a
stale answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

from server.db import open_database
from server.keys import hash_key
from server.models import User
from server.services import accounts
from server.services.audit import Actor
from server.settings import Settings
from tests.test_cli import THREEMIN
from tests.test_cli import serving as cli_serving

SECRET = "two-workers-secret-not-for-production"
VIEWER = "{ viewer { kind key { id } } }"
CREATE = "mutation($e: ID!, $d: JSON!) { createRecord(endpoint: $e, data: $d) { id } }"
LIST = "query($e: ID!) { records(endpoint: $e) { edges { node { id } } } }"


def environment(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREEMIN_")}
    return env | {"THREEMIN_DATABASE_URL": f"sqlite://{folder / 'shared.sqlite3'}", "THREEMIN_SECRET_KEY": SECRET}


def run(folder: Path, *args: str, **extra_env: str) -> str:
    result = subprocess.run([THREEMIN, *args], cwd=folder, env=environment(folder) | extra_env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


@contextmanager
def serving(folder: Path) -> Iterator[str]:
    with cli_serving(folder, environment(folder)) as url:
        yield url


def ask(url: str, key: str, query: str = VIEWER, **variables: object) -> tuple[int, str | None, dict]:
    response = httpx.post(url, json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    body = response.json()
    return response.status_code, (body.get("errors") or [{}])[0].get("extensions", {}).get("code"), body


def key_id_in(folder: Path, plaintext: str) -> str:
    with sqlite3.connect(folder / "shared.sqlite3") as db:
        (ident,) = db.execute("SELECT id FROM api_key WHERE key_hash = ?", (hash_key(plaintext, SECRET),)).fetchone()
    return ident


def test_a_second_worker_sees_deactivation_and_reactivation_at_once(tmp_path):
    demo = json.loads(run(tmp_path, "demo", "--json"))
    key, endpoint = demo["test_key"], demo["endpoint"]
    ident = key_id_in(tmp_path, key)
    with ExitStack() as stack:
        first = stack.enter_context(serving(tmp_path))
        second = stack.enter_context(serving(tmp_path))
        assert first != second

        # Both work, and see each other's writes: one database.
        status, code, body = ask(first, key, CREATE, e=endpoint, d={"customer": "Ada", "amount": 1})
        assert (status, code) == (200, None), body
        record = body["data"]["createRecord"]["id"]
        status, code, body = ask(second, key, LIST, e=endpoint)
        assert [edge["node"]["id"] for edge in body["data"]["records"]["edges"]] == [record]
        assert ask(second, key)[2]["data"]["viewer"]["key"]["id"] == ident  # the second worker has just used the key

        assert "deactivated" in run(tmp_path, "key", "deactivate", ident)
        assert ask(second, key)[:2] == (401, "KEY_DISABLED")
        assert ask(first, key)[:2] == (401, "KEY_DISABLED")
        status, code, _ = ask(second, key, CREATE, e=endpoint, d={"customer": "Eve", "amount": 2})
        assert (status, code) == (401, "KEY_DISABLED")

        run(tmp_path, "key", "reactivate", ident)
        assert ask(second, key)[:2] == (200, None)
        status, code, body = ask(second, key, LIST, e=endpoint)
        assert [edge["node"]["id"] for edge in body["data"]["records"]["edges"]] == [record]  # the refused write left nothing
        assert ask(second, demo["live_key"])[:2] == (200, None)  # the other key was never touched


def owner_session(folder: Path) -> str:
    """A session token for a new owner (created with `threemin createuser`), as signing in would give."""
    run(folder, "createuser", "--email", "olivia@demo.example", "--name", "Olivia", "--role", "owner", THREEMIN_PASSWORD="correct horse battery staple")

    async def start() -> str:
        settings = Settings(database_url=environment(folder)["THREEMIN_DATABASE_URL"], secret_key=SECRET)
        async with open_database(settings, migrate=False):
            return await accounts.start_session(await User.get(email="olivia@demo.example"), settings, Actor("test"))

    return asyncio.run(start())


def as_owner(url: str, token: str, query: str, **variables: object) -> dict:
    headers = {"Cookie": f"threemin_session={token}", "Sec-Fetch-Site": "same-origin"}
    body = httpx.post(url, json={"query": query, "variables": variables}, headers=headers, timeout=10).json()
    assert "errors" not in body, body
    return body["data"]


def test_roll_and_delete_through_one_worker_are_seen_by_the_other(tmp_path):
    demo = json.loads(run(tmp_path, "demo", "--json"))
    old = demo["test_key"]
    ident = key_id_in(tmp_path, old)
    token = owner_session(tmp_path)
    with ExitStack() as stack:
        first = stack.enter_context(serving(tmp_path))
        second = stack.enter_context(serving(tmp_path))
        assert ask(second, old)[:2] == (200, None)

        roll = "mutation($id: ID!, $g: RollGrace!) { rollKey(id: $id, grace: $g) { secret } }"
        graced = as_owner(first, token, roll, id=ident, g="ONE_HOUR")["rollKey"]["secret"]
        assert ask(second, old)[:2] == ask(second, graced)[:2] == (200, None)  # both, during the grace
        new = as_owner(first, token, roll, id=ident, g="NONE")["rollKey"]["secret"]
        assert ask(second, old)[:2] == ask(second, graced)[:2] == (401, "UNAUTHENTICATED")
        assert ask(second, new)[:2] == (200, None)

        as_owner(first, token, "mutation($id: ID!) { deleteKey(id: $id) }", id=ident)
        assert ask(second, new)[:2] == (401, "UNAUTHENTICATED")
        assert ask(second, demo["live_key"])[:2] == (200, None)
