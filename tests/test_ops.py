"""Operations: /healthz, /readyz, /metrics, request ids and JSON log lines.

Metrics are read the way Prometheus reads them (its text format, parsed by
prometheus_client's own parser) after real requests through the app.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families
from tortoise.context import require_context

from server import keys
from server.app import create_app
from server.keys import Environment
from server.models import ApiKey
from server.observability import health
from server.observability.logs import JsonFormatter, RequestIdFilter, lean_log_records
from server.observability.metrics import root_fields
from server.settings import Settings
from tests.conftest import CREATE, ORDER, error_codes, gql, key_id
from tests.postgres import sqlite_only
from tests.test_cli import THREEMIN, free_port

TOKEN = "metrics-token-for-tests-0123456789"
SCRAPE = {"Authorization": f"Bearer {TOKEN}"}


def client_for(app, *, raise_app_exceptions: bool = True) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest_asyncio.fixture
async def metered(settings: Settings, db: None) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app whose /metrics is on."""
    async with client_for(create_app(settings.replace(metrics_token=TOKEN), manage_database=False)) as client:
        yield client


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics", headers=SCRAPE)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def requests_total(samples, operation: str, code: str) -> float:
    return samples.get(("threemin_requests_total", frozenset({("operation", operation), ("code", code)})), 0)


def verifications(samples, outcome: str) -> float:
    return samples.get(("threemin_key_verifications_total", frozenset({("outcome", outcome)})), 0)


# --- health and readiness -------------------------------------------------------------------


async def test_healthz_answers_without_any_database(settings):
    # No database context was ever opened: /healthz must not need one.
    async with client_for(create_app(settings, manage_database=False)) as client:
        response = await client.get("/healthz")
        assert response.status_code == 200 and response.json() == {"status": "ok"}
        assert response.headers["cache-control"] == "no-store"
        not_ready = await client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json() == {"status": "unavailable", "checks": {"database": "unreachable", "migrations": "unknown"}}


async def test_readyz_is_ready_on_a_migrated_database(client):
    response = await client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}
    assert response.headers["cache-control"] == "no-store"


async def test_readyz_says_the_database_failed_without_its_error_text(client, monkeypatch):
    connection = require_context().db()

    async def failing(*args, **kwargs):
        raise OSError("could not connect to postgres://admin:hunter2@db.internal:5432/threemin")

    monkeypatch.setattr(connection, "execute_query", failing)
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "unreachable", "migrations": "unknown"}
    assert "hunter2" not in response.text and "db.internal" not in response.text


async def test_readyz_refuses_while_a_migration_is_not_applied(client):
    latest = health.shipped_migrations()[-1]
    await require_context().db().execute_query(f"DELETE FROM tortoise_migrations WHERE name = '{latest}'")
    response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "checks": {"database": "ok", "migrations": "pending"}}
    assert latest not in response.text  # which one is for the log, not for the prober


async def test_health_routes_need_no_session_and_are_not_rate_limited(settings, db):
    app = create_app(settings.replace(key_rate_limit=1, partner_rate_limit=1), manage_database=False)
    async with client_for(app) as client:
        answers = [(await client.get(path)).status_code for _ in range(5) for path in ("/healthz", "/readyz")]
    assert set(answers) == {200}


# --- /metrics -------------------------------------------------------------------------------


async def test_metrics_are_off_without_a_token(client):
    response = await client.get("/metrics", headers={"Authorization": "Bearer anything-at-all-here"})
    assert response.status_code == 404


async def test_metrics_need_the_exact_bearer_token(metered):
    for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": TOKEN}, {"Authorization": f"Bearer {TOKEN}x"}):
        response = await metered.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert "threemin_requests_total" not in response.text
    assert (await metered.get("/metrics", headers=SCRAPE)).status_code == 200


async def test_counters_move_by_root_field_code_and_key_outcome(metered, world):
    a = world.a
    ok = await gql(metered, a.keys["test"], CREATE, {"endpoint": a.orders, "data": ORDER})
    assert ok.status_code == 200 and "errors" not in ok.json()
    invalid = await gql(metered, a.keys["test"], CREATE, {"endpoint": a.orders, "data": {"customer": "Ada", "amount": -1}})
    assert error_codes(invalid.json()) == ["VALIDATION_FAILED"]
    unknown = keys.generate(Environment.TEST)  # a well-formed key nobody issued
    malformed = a.keys["test"][:-1] + ("x" if a.keys["test"][-1] != "x" else "y")
    for key in (unknown, malformed):
        assert (await gql(metered, key, CREATE, {"endpoint": a.orders, "data": ORDER})).status_code == 401
    await ApiKey.filter(id=await key_id(a.keys["live"])).update(active=False)
    disabled = await gql(metered, a.keys["live"], CREATE, {"endpoint": a.orders, "data": ORDER})
    assert error_codes(disabled.json()) == ["KEY_DISABLED"]

    samples = await scrape(metered)
    assert requests_total(samples, "createRecord", "OK") == 1
    assert requests_total(samples, "createRecord", "VALIDATION_FAILED") == 1
    assert requests_total(samples, "graphql", "UNAUTHENTICATED") == 2
    assert requests_total(samples, "graphql", "KEY_DISABLED") == 1
    assert (verifications(samples, "ok"), verifications(samples, "unknown"), verifications(samples, "malformed")) == (2, 1, 1)
    assert verifications(samples, "deactivated") == 1
    histogram = ("threemin_request_duration_seconds_count", frozenset({("operation", "createRecord")}))
    assert samples[histogram] == 2


async def test_labels_come_from_the_schema_never_from_the_client(metered, world):
    a = world.a
    aliased = f'query Chosen_By_Client_42 {{ mine: records(endpoint: "{a.orders}") {{ edges {{ cursor }} }} viewer {{ kind }} }}'
    response = await metered.post("/graphql", json={"query": aliased, "operationName": "Chosen_By_Client_42"}, headers={"Authorization": f"Bearer {a.keys['test']}"})
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    invented = await gql(metered, a.keys["test"], "{ inventedRootField_9 }")
    assert error_codes(invented.json()) == ["GRAPHQL_VALIDATION_FAILED"]

    text = (await metered.get("/metrics", headers=SCRAPE)).text
    for chosen in ("Chosen_By_Client_42", "mine", "inventedRootField_9", a.orders):
        assert chosen not in text
    samples = await scrape(metered)
    assert requests_total(samples, "records", "OK") == 1 and requests_total(samples, "viewer", "OK") == 1
    assert requests_total(samples, "graphql", "GRAPHQL_VALIDATION_FAILED") == 1


async def test_pages_and_unknown_paths_count_by_route_name(metered):
    assert (await metered.get("/login")).status_code == 200
    assert (await metered.get(f"/no/such/path/{'x' * 40}")).status_code == 404
    samples = await scrape(metered)
    assert requests_total(samples, "login", "OK") == 1
    assert requests_total(samples, "unmatched", "NOT_FOUND") == 1
    assert "x" * 40 not in (await metered.get("/metrics", headers=SCRAPE)).text


def test_root_fields_follow_fragments_and_pick_the_named_operation():
    query = "query A { ...F viewer { kind } } query B { records(endpoint: \"e\") { edges { cursor } } } fragment F on Query { x: viewer { kind } }"
    assert root_fields(query, "A") == (("x", "viewer"), ("viewer", "viewer"))
    assert root_fields(query, "B") == (("records", "records"),)
    assert root_fields(query, None) == ()  # two operations and none chosen: not executed


# --- request ids ----------------------------------------------------------------------------


async def test_every_route_answers_with_a_request_id(client, world):
    responses = [
        await client.get("/healthz"),
        await client.get("/login"),
        await client.get("/static/threemin.css"),
        await client.get("/no/such/page"),
        await gql(client, world.a.keys["test"], "{ viewer { kind } }"),
        await gql(client, None, "{ viewer { kind } }"),
    ]
    ids = [r.headers.get_list("x-request-id") for r in responses]
    assert all(len(found) == 1 and re.fullmatch(r"[0-9a-f]{16}", found[0]) for found in ids), ids
    assert len({found[0] for found in ids}) == len(ids)  # one new id per request


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("0af7651916cd43dd8448eb211c80319c", True),
        ("3f2b-4c1d.trace:7_x", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("two words", False),
        ("x\r\nforged: header", False),
        ("tm_test_looks-like-a-key", False),
        ("", False),
    ],
)
async def test_a_sane_incoming_request_id_is_kept_and_anything_else_replaced(client, given, kept):
    response = await client.get("/healthz", headers={"X-Request-Id": given})
    assert (response.headers["x-request-id"] == given) is kept
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,64}", response.headers["x-request-id"])


async def test_a_masked_error_carries_the_request_id_of_the_header(client, world, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("server.auth.principal_for", broken)
    response = await gql(client, world.a.keys["test"], "{ viewer { kind } }", **{"X-Request-Id": "support-ticket-7"})
    assert response.status_code == 500
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "INTERNAL_ERROR", "requestId": "support-ticket-7"}
    assert response.headers["x-request-id"] == "support-ticket-7"


async def test_an_unhandled_error_still_answers_500_with_the_id(settings, db, monkeypatch):
    async def broken(request):
        raise RuntimeError("a bug")

    monkeypatch.setattr(health, "healthz", broken)
    async with client_for(create_app(settings, manage_database=False), raise_app_exceptions=False) as client:
        response = await client.get("/healthz", headers={"X-Request-Id": "bug-report-1"})
    assert response.status_code == 500 and response.headers["x-request-id"] == "bug-report-1"


# --- JSON log lines -------------------------------------------------------------------------


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Log lines as `threemin serve` writes them (JSON formatter, request id filter on the handler)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.mark.parametrize("lean", [False, True], ids=["full records", "lean records (serve)"])
async def test_log_lines_are_json_with_the_request_id(client, world, json_lines, monkeypatch, lean):
    if lean:  # as `threemin serve` runs: what lean_log_records skips is printed by no line
        for name in ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing", "logAsyncioTasks"):
            monkeypatch.setattr(logging, name, getattr(logging, name, True), raising=False)  # restored after the test
        lean_log_records()
    await gql(client, world.a.keys["test"], "{ viewer { kind } }", **{"X-Request-Id": "first-request"})

    async def broken(*args, **kwargs):
        raise RuntimeError("boom in the key check")

    monkeypatch.setattr("server.auth.principal_for", broken)
    failed = await gql(client, world.a.keys["test"], "{ viewer { kind } }")
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert all({"time", "level", "logger", "message", "request_id"} <= set(line) for line in lines)

    [first] = [line for line in lines if line["logger"] == "threemin.access" and line["request_id"] == "first-request"]
    assert first["route"] == "graphql" and first["status"] == 200 and first["level"] == "info"
    failure = failed.headers["x-request-id"]
    [error] = [line for line in lines if line["level"] == "error" and line["request_id"] == failure]
    assert "RuntimeError: boom in the key check" in error["exception"]
    assert world.a.keys["test"] not in json_lines.getvalue()


# --- a real `threemin serve` ----------------------------------------------------------------


@sqlite_only("it serves the SQLite default from a migrated copy; serving on PostgreSQL is tests/test_two_workers.py")
def test_serve_writes_json_lines_and_sums_metrics_from_the_multiprocess_folder(tmp_path, migrated_template):
    shutil.copyfile(migrated_template, tmp_path / "threemin.sqlite3")  # migrating from nothing takes long on a busy machine
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_99999.db").write_bytes(b"left from the last run")  # must be cleared at start
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREEMIN_")}
    env.update(THREEMIN_LOG_FORMAT="json", THREEMIN_METRICS_TOKEN=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(folder))
    port = free_port()
    process = subprocess.Popen([THREEMIN, "serve", "--port", str(port)], cwd=tmp_path, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # only a guard against a server that never starts
        while True:
            try:
                probe = httpx.get(url + "/healthz", headers={"X-Request-Id": "probe-1"}, timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        assert probe.status_code == 200 and probe.headers["x-request-id"] == "probe-1"
        assert httpx.get(url + "/readyz").json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}
        metrics = httpx.get(url + "/metrics", headers=SCRAPE).text
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=30)
    assert not (folder / "counter_99999.db").exists()
    assert 'threemin_requests_total{code="OK",operation="healthz"} 1.0' in metrics
    lines = [json.loads(line) for line in errors.splitlines() if line.startswith("{")]
    assert any(line["logger"].startswith("uvicorn") for line in lines), errors
    assert any(line["logger"] == "threemin.access" and line["request_id"] == "probe-1" for line in lines), errors
