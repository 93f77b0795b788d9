"""A server killed with SIGKILL mid-stream loses no acknowledged record and duplicates none.

Four client threads send createRecord as fast as they can, each with its own
Idempotency-Key, and retry a request with the same key until it is answered;
the process is killed without warning while requests are in flight. A new
server on the same files must hold every record whose id a client received,
exactly once; then every request that got no answer, and some that did, are
retried with their key, and each request's record must exist exactly once:
a request the crash caught after its commit is replayed, one caught before
it runs now.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter

import httpx

from tests.test_cli import CREATE, THREEMIN, free_port, run, serving


def test_sigkill_mid_stream_keeps_every_acknowledged_record_once(tmp_path):
    demo = json.loads(run(tmp_path, "demo", "--json").stdout)
    acknowledged, answered, sent = _kill_mid_stream(tmp_path, demo, workers=4, idempotent=True)

    with serving(tmp_path) as restarted:  # starts cleanly on the same files
        assert httpx.post(restarted, json={"query": "{ viewer { kind } }"}, headers={"Authorization": f"Bearer {demo['test_key']}"}).json()["data"]
        stored = Counter(row[0] for row in sqlite3.connect(tmp_path / "threemin.sqlite3").execute("select id from record"))
        missing = [ident for ident in acknowledged if stored[ident] != 1]
        assert not missing, f"{len(missing)} acknowledged records missing or duplicated"
        assert len(set(acknowledged)) == len(acknowledged)

        unanswered = [key for key in sent if key not in answered]
        assert unanswered, "the kill caught no request in flight"  # each thread was sending when the server died
        some_answered = list(answered)[::25]
        with httpx.Client(timeout=5) as client:
            for key in unanswered + some_answered:
                answer = client.post(restarted, json=sent[key], headers=_headers(demo["test_key"], key))
                assert answer.status_code == 200, answer.text
                record_id = answer.json()["data"]["createRecord"]["id"]
                if key in answered:
                    assert record_id == answered[key] and answer.headers["idempotent-replayed"] == "true"
    customers = Counter(row[0] for row in sqlite3.connect(tmp_path / "threemin.sqlite3").execute("select json_extract(data, '$.customer') from record"))
    assert set(customers) == set(sent), "a request's record is missing"
    assert set(customers.values()) == {1}, "a request's record was written twice"


def test_sigkill_mid_stream_of_plain_creates_keeps_every_acknowledged_record_once(tmp_path):
    """No Idempotency-Key: the records of many connections share commits
    (services/group_commit.py), and an answer is sent only after its commit."""
    demo = json.loads(run(tmp_path, "demo", "--json").stdout)
    acknowledged, answered, sent = _kill_mid_stream(tmp_path, demo, workers=12, idempotent=False)
    stored = Counter(row[0] for row in sqlite3.connect(tmp_path / "threemin.sqlite3").execute("select id from record"))
    missing = [ident for ident in acknowledged if stored[ident] != 1]
    assert not missing, f"{len(missing)} acknowledged records missing or duplicated"
    assert len(set(acknowledged)) == len(acknowledged)
    assert set(stored.values()) == {1}
    unacknowledged = len(stored) - len(acknowledged)
    assert 0 <= unacknowledged <= len(sent) - len(answered), "more records than requests in flight at the kill"


def _kill_mid_stream(tmp_path, demo: dict, *, workers: int, idempotent: bool) -> tuple[list[str], dict[str, str], dict[str, dict]]:
    """Stream createRecord from `workers` threads, SIGKILL the server after 300 answers.

    Returns the record ids acknowledged, the record id answered for each
    request name, and the body sent under each request name. A request that
    gets no answer is sent again (same name) only when `idempotent`.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREEMIN_")}
    env["THREEMIN_KEY_RATE_LIMIT"] = env["THREEMIN_PARTNER_RATE_LIMIT"] = "0"
    server = subprocess.Popen([THREEMIN, "serve", "--port", str(port)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/graphql"
    acknowledged: list[str] = []
    answered: dict[str, str] = {}  # request name (its idempotency key) -> record id
    sent: dict[str, dict] = {}  # request name -> body, for every request sent at least once
    stop = threading.Event()

    def stream(worker: int) -> None:
        with httpx.Client(timeout=5) as client:
            n = 1
            while not stop.is_set():
                key = f"w{worker}-{n}"
                sent[key] = {"query": CREATE, "variables": {"e": demo["endpoint"], "d": {"customer": key, "amount": n}}}
                headers = _headers(demo["test_key"], key) if idempotent else {"Authorization": f"Bearer {demo['test_key']}"}
                try:
                    answer = client.post(url, json=sent[key], headers=headers)
                    answered[key] = answer.json()["data"]["createRecord"]["id"]
                    acknowledged.append(answered[key])
                    n += 1
                except (httpx.TransportError, ValueError, KeyError, TypeError):
                    if stop.is_set() or server.poll() is not None:
                        return
                    time.sleep(0.05)  # not up yet: the same request again
                    if not idempotent:
                        n += 1  # without a key a retry could store it twice: a new request instead

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(acknowledged) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.send_signal(signal.SIGKILL)  # no shutdown, no flush: whatever was committed is all there is
    server.wait(timeout=10)
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    assert len(acknowledged) >= 300, "the stream never got going"
    return acknowledged, answered, sent


def _headers(api_key: str, idempotency_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}", "Idempotency-Key": idempotency_key}
