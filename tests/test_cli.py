"""The `threemin` command as an operator uses it, and the real server it starts.

These run the installed console script in a temporary folder with only the
default settings, like a new user following the README.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

THREEMIN = shutil.which("threemin", path=str(Path(sys.executable).parent)) or "threemin"


def run(folder: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREEMIN_")}
    result = subprocess.run([THREEMIN, *args], cwd=folder, env=env, capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serving(folder: Path, env: dict[str, str] | None = None, *options: str) -> Iterator[str]:
    """A real `threemin serve` in `folder` (default settings, or `env`; more `options`), stopped with SIGTERM."""
    port = free_port()
    env = env if env is not None else {k: v for k, v in os.environ.items() if not k.startswith("THREEMIN_")}
    process = subprocess.Popen([THREEMIN, "serve", "--port", str(port), *options], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, process.stdout.read() if process.stdout else ""
                time.sleep(0.1)
        yield url + "/graphql"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        # Whatever happened, the server never prints a key.
        assert "tm_test_" not in output and "tm_live_" not in output, output


def post(url: str, key: str, query: str, **variables: object) -> dict:
    response = httpx.post(url, json={"query": query, "variables": variables}, headers={"Authorization": f"Bearer {key}"})
    return response.json()


CREATE = "mutation($e: ID!, $d: JSON!) { createRecord(endpoint: $e, data: $d) { id data } }"
LIST = "query($e: ID!) { records(endpoint: $e) { edges { node { id data } } } }"


def test_demo_then_serve_then_restart_keeps_keys_working(tmp_path):
    demo = json.loads(run(tmp_path, "demo", "--json").stdout)
    assert set(demo) == {"workspace", "endpoint", "partner", "test_key", "live_key"}
    assert demo["test_key"].startswith("tm_test_") and demo["live_key"].startswith("tm_live_")
    assert (tmp_path / "threemin.secret").stat().st_mode & 0o777 == 0o600

    with serving(tmp_path) as url:
        created = post(url, demo["test_key"], CREATE, e=demo["endpoint"], d={"customer": "Ada", "amount": 42.5})
        assert created["data"]["createRecord"]["data"] == {"customer": "Ada", "amount": 42.5}
        assert post(url, demo["live_key"], LIST, e=demo["endpoint"])["data"]["records"]["edges"] == []
    with serving(tmp_path) as url:  # the secret file is reused: keys survive restarts
        edges = post(url, demo["test_key"], LIST, e=demo["endpoint"])["data"]["records"]["edges"]
        assert [edge["node"]["id"] for edge in edges] == [created["data"]["createRecord"]["id"]]


def test_operator_commands_issue_and_switch_a_key(tmp_path):
    workspace = json.loads(run(tmp_path, "workspace", "create", "Acme", "--json").stdout)
    endpoint = json.loads(run(tmp_path, "endpoint", "create", "leads", "--field", "email:email:required", "--field", "note:string", "--json").stdout)
    assert endpoint["fields"][0] == {"name": "email", "type": "email", "required": True}
    partner = json.loads(run(tmp_path, "partner", "create", "Globex", "--workspace", workspace["id"], "--json").stdout)
    issued = json.loads(
        run(tmp_path, "key", "issue", "--endpoint", endpoint["id"], "--partner", partner["id"], "--env", "live",
            "--permissions", "create", "--writable-fields", "email", "--json").stdout
    )
    assert issued["key"].startswith("tm_live_") and issued["id"].startswith("key_")
    assert issued["permissions"] == ["create"]
    database = (tmp_path / "threemin.sqlite3").read_bytes()
    assert issued["key"].encode() not in database  # only the hash is stored

    with serving(tmp_path) as url:
        ok = post(url, issued["key"], "mutation($e: ID!) { createRecord(endpoint: $e, data: {email: \"a@b.co\"}) { id } }", e=endpoint["id"])
        assert ok["data"]["createRecord"]["id"].startswith("rec_")
        assert "deactivated" in run(tmp_path, "key", "deactivate", issued["id"]).stdout
        refused = post(url, issued["key"], "{ viewer { kind } }")
        assert refused["errors"][0]["extensions"]["code"] == "KEY_DISABLED"
        run(tmp_path, "key", "reactivate", issued["id"])
        assert post(url, issued["key"], "{ viewer { kind } }")["data"]["viewer"]["kind"] == "KEY"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["key", "issue", "--endpoint", "ep_x", "--partner", "pt_x", "--env", "test", "--permissions", "create,fly"], "permissions"),
        (["endpoint", "create", "x", "--field", "amount:money"], "type must be one of"),
        (["key", "deactivate", "key_doesnotexist"], "No such key"),
    ],
)
def test_bad_input_gets_a_clear_message_and_exit_1(tmp_path, args, message):
    run(tmp_path, "workspace", "create", "Acme")
    result = run(tmp_path, *args, check=False)
    assert result.returncode == 1 and message in result.stderr


def test_migrate_on_a_fresh_folder(tmp_path):
    assert "0001_initial" in run(tmp_path, "migrate").stdout
    assert "no migrations to apply" in run(tmp_path, "migrate").stdout


def test_sigterm_flushes_key_use_before_the_server_exits(tmp_path):
    import sqlite3

    demo = json.loads(run(tmp_path, "demo", "--json").stdout)
    with serving(tmp_path) as url:  # the flush interval is 5 s: only the shutdown flush can write this in time
        create = f'mutation {{ createRecord(endpoint: "{demo["endpoint"]}", data: {{customer: "Ada", amount: 1}}) {{ id }} }}'
        for _ in range(3):
            assert post(url, demo["test_key"], create)["data"]["createRecord"]["id"]
    # serving() stopped the server with SIGTERM and waited for it to exit.
    database = sqlite3.connect(tmp_path / "threemin.sqlite3")
    [(last_used,)] = database.execute("select last_used_at from api_key where environment = 'test'").fetchall()
    [(created,)] = database.execute("select sum(allowed) from usage_day where operation = 'create'").fetchall()
    assert last_used is not None and created == 3
