"""Revocation seen by another worker process on its very next request (issue 3, item 4),
and `serve --workers N` (issue 7).

Two real `threemin serve` processes share one database: a SQLite file, or a
fresh PostgreSQL database when the suite runs on PostgreSQL. A key is
switched off and on with the operator's command (a third process); the worker
that did not make the change must see it on the next request: no key cache
may hold a stale answer.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import pytest

from server.cli import SQLITE_ONE_WORKER
from server.db import open_database
from server.keys import hash_key
from server.models import ApiKey, Record, User
from server.services import accounts
from server.services.audit import Actor
from server.settings import Settings
from tests.postgres import Databases
from tests.test_cli import THREEMIN
from tests.test_cli import serving as cli_serving

SECRET = "two-workers-secret-not-for-production"
VIEWER = "{ viewer { kind key { id } } }"
CREATE = "mutation($e: ID!, $d: JSON!) { createRecord(endpoint: $e, data: $d) { id } }"
LIST = "query($e: ID!) { records(endpoint: $e) { edges { node { id } } } }"
T = TypeVar("T")


class Shared:
    """The folder and environment every process of one test runs with: one database, one secret."""

    def __init__(self, folder: Path, database_url: str) -> None:
        self.folder = folder
        base = {k: v for k, v in os.environ.items() if not k.startswith("THREEMIN_")}
        self.env = base | {"THREEMIN_DATABASE_URL": database_url, "THREEMIN_SECRET_KEY": SECRET}

    def run(self, *args: str, **extra_env: str) -> str:
        result = subprocess.run([THREEMIN, *args], cwd=self.folder, env=self.env | extra_env, capture_output=True, text=True, timeout=30)
        assert result.returncode == 0, result.stderr
        return result.stdout

    @contextmanager
    def serving(self, *options: str) -> Iterator[str]:
        with cli_serving(self.folder, self.env, *options) as url:
            yield url

    def query(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run `work()` with this database open, as a fourth process would."""

        async def opened() -> T:
            async with open_database(Settings(database_url=self.env["THREEMIN_DATABASE_URL"], secret_key=SECRET), migrate=False):
                return await work()

        return asyncio.run(opened())


@pytest.fixture
def shared(tmp_path: Path, postgres: Databases | None) -> Iterator[Shared]:
    if postgres is None:
        yield Shared(tmp_path, f"sqlite://{tmp_path / 'shared.sqlite3'}")
        return
    name = postgres.create()  # empty: the first command applies the migrations, as for an operator
    yield Shared(tmp_path, postgres.url(name))
    postgres.drop(name)


def ask(url: str, key: str, query: str = VIEWER, **variables: object) -> tuple[int, str | None, dict]:
    # A new connection each time: with several workers, any of them may answer.
    response = httpx.post(url, json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    body = response.json()
    return response.status_code, (body.get("errors") or [{}])[0].get("extensions", {}).get("code"), body


def key_id_in(shared: Shared, plaintext: str) -> str:
    async def find() -> str:
        return (await ApiKey.get(key_hash=hash_key(plaintext, SECRET))).id

    return shared.query(find)


def test_a_second_worker_sees_deactivation_and_reactivation_at_once(shared):
    demo = json.loads(shared.run("demo", "--json"))
    key, endpoint = demo["test_key"], demo["endpoint"]
    ident = key_id_in(shared, key)
    with ExitStack() as stack:
        first = stack.enter_context(shared.serving())
        second = stack.enter_context(shared.serving())
        assert first != second

        # Both work, and see each other's writes: one database.
        status, code, body = ask(first, key, CREATE, e=endpoint, d={"customer": "Ada", "amount": 1})
        assert (status, code) == (200, None), body
        record = body["data"]["createRecord"]["id"]
        status, code, body = ask(second, key, LIST, e=endpoint)
        assert [edge["node"]["id"] for edge in body["data"]["records"]["edges"]] == [record]
        assert ask(second, key)[2]["data"]["viewer"]["key"]["id"] == ident  # the second worker has just used the key

        assert "deactivated" in shared.run("key", "deactivate", ident)
        assert ask(second, key)[:2] == (401, "KEY_DISABLED")
        assert ask(first, key)[:2] == (401, "KEY_DISABLED")
        status, code, _ = ask(second, key, CREATE, e=endpoint, d={"customer": "Eve", "amount": 2})
        assert (status, code) == (401, "KEY_DISABLED")

        shared.run("key", "reactivate", ident)
        assert ask(second, key)[:2] == (200, None)
        status, code, body = ask(second, key, LIST, e=endpoint)
        assert [edge["node"]["id"] for edge in body["data"]["records"]["edges"]] == [record]  # the refused write left nothing
        assert ask(second, demo["live_key"])[:2] == (200, None)  # the other key was never touched


def owner_session(shared: Shared) -> str:
    """A session token for a new owner (created with `threemin createuser`), as signing in would give."""
    shared.run("createuser", "--email", "olivia@demo.example", "--name", "Olivia", "--role", "owner", THREEMIN_PASSWORD="correct horse battery staple")

    async def start() -> str:
        settings = Settings(database_url=shared.env["THREEMIN_DATABASE_URL"], secret_key=SECRET)
        return await accounts.start_session(await User.get(email="olivia@demo.example"), settings, Actor("test"))

    return shared.query(start)


def as_owner(url: str, token: str, query: str, **variables: object) -> dict:
    headers = {"Cookie": f"threemin_session={token}", "Sec-Fetch-Site": "same-origin"}
    body = httpx.post(url, json={"query": query, "variables": variables}, headers=headers, timeout=10).json()
    assert "errors" not in body, body
    return body["data"]


def test_roll_and_delete_through_one_worker_are_seen_by_the_other(shared):
    demo = json.loads(shared.run("demo", "--json"))
    old = demo["test_key"]
    ident = key_id_in(shared, old)
    token = owner_session(shared)
    with ExitStack() as stack:
        first = stack.enter_context(shared.serving())
        second = stack.enter_context(shared.serving())
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


def test_serve_refuses_several_workers_on_sqlite_before_touching_anything(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREEMIN_")} | {"THREEMIN_DATABASE_URL": f"sqlite://{tmp_path / 'one.sqlite3'}"}
    result = subprocess.run([THREEMIN, "serve", "--workers", "2"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and result.stderr.strip() == SQLITE_ONE_WORKER
    assert list(tmp_path.iterdir()) == []  # no database, no secret file, no server


def worker_processes(url: str) -> list[int]:
    """The uvicorn workers of the `threemin serve` listening at url (children of that process)."""
    option = f"--port\0{httpx.URL(url).port}\0".encode()
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and THREEMIN.encode() in (proc / "cmdline").read_bytes() and option in (proc / "cmdline").read_bytes():
                children = (proc / "task" / proc.name / "children").read_text().split()
                return [int(child) for child in children if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    raise AssertionError(f"no server process for {url}")


def test_two_workers_on_postgresql_share_every_write_and_revocation(shared, postgres):
    if postgres is None:
        pytest.skip("--workers above 1 needs PostgreSQL (run the suite with THREEMIN_TEST_DATABASE_URL, as .ci/run does)")
    demo = json.loads(shared.run("demo", "--json"))
    key, endpoint = demo["test_key"], demo["endpoint"]
    ident = key_id_in(shared, key)
    # Only the flush at shutdown can write a key's last use within this test.
    shared.env["THREEMIN_LAST_USED_FLUSH_SECONDS"] = "3600"
    with shared.serving("--workers", "2") as url:
        assert len(worker_processes(url)) == 2
        created = set()
        for n in range(12):  # each on a new connection, so either worker may answer any of them
            status, code, body = ask(url, key, CREATE, e=endpoint, d={"customer": f"c{n}", "amount": n})
            assert (status, code) == (200, None), body
            created.add(body["data"]["createRecord"]["id"])
        for _ in range(6):
            listed = {edge["node"]["id"] for edge in ask(url, key, LIST, e=endpoint)[2]["data"]["records"]["edges"]}
            assert listed == created

        shared.run("key", "deactivate", ident)
        assert {ask(url, key)[:2] for _ in range(8)} == {(401, "KEY_DISABLED")}
        shared.run("key", "reactivate", ident)
        assert {ask(url, key)[:2] for _ in range(8)} == {(200, None)}

    async def facts() -> tuple[int, object]:
        return await Record.filter(endpoint_id=endpoint).count(), (await ApiKey.get(id=ident)).last_used_at

    count, last_used = shared.query(facts)
    assert count == len(created) == 12  # nothing written twice, nothing lost
    assert last_used is not None  # the workers wrote their pending key use on SIGTERM
