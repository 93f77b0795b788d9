"""Read depth: does a page deep into an endpoint's records cost what the first page does?

    .venv/bin/python bench/read_depth.py [--records 1000000] [--reps 300] [--deep-offset N]

Makes a fresh threemin database under bench/.work/read_depth (`threemin demo
--json`), fills the demo endpoint's test environment with N records by direct
SQLite inserts into threemin's `record` table (sequential `seq`, the same
column formats the ORM writes), starts `threemin serve` on a free port and
times `records(first: 50)` over HTTP (one keep-alive connection, requests
alternating) for the first page and for a page `--deep-offset` records from
the newest (default: 1,000 records before the oldest, i.e. ~999,000 deep for
N = 1,000,000), cursor from `server.services.records.encode_cursor(seq)`.
Prints both medians (and p90) and writes them to bench/.work/read_depth.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

import run as harness

from server.keys import ALPHABET
from server.services.records import encode_cursor

DIR = harness.WORK / "read_depth"
DB = DIR / "threemin.sqlite3"
QUERY = "query($e: ID!, $after: String) { records(endpoint: $e, first: 50, after: $after) { edges { node { id data } } pageInfo { endCursor hasNextPage } } }"


def fill(n: int, chunk: int = 50_000) -> tuple[int, int]:
    """Insert n records for the demo's test key; return the (lowest, highest) seq."""
    conn = sqlite3.connect(DB)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    endpoint_id, partner_id, key_id = conn.execute("SELECT endpoint_id, partner_id, id FROM api_key WHERE environment = 'test'").fetchone()
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    base = conn.execute("SELECT coalesce(max(seq), 0) FROM record").fetchone()[0]
    sql = (
        'INSERT INTO "record" ("seq", "id", "environment", "data", "created_at", "updated_at", "endpoint_id", "key_id", "partner_id") '
        "VALUES (?, ?, 'test', ?, ?, ?, ?, ?, ?)"
    )
    began = time.perf_counter()
    for first in range(0, n, chunk):
        rows = []
        for i in range(first, min(n, first + chunk)):
            when = str(start + timedelta(milliseconds=i))
            data = json.dumps({"customer": f"Customer {i}", "amount": i * 0.5, "note": "read depth"}, separators=(",", ":"))
            rows.append((base + i + 1, "rec_" + "".join(rng.choices(ALPHABET, k=20)), data, when, when, endpoint_id, key_id, partner_id))
        with conn:
            conn.executemany(sql, rows)
        if first and first % 200_000 == 0:
            harness.log(f"  {first:,} records ({time.perf_counter() - began:.0f} s)")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    harness.log(f"filled {n:,} records in {time.perf_counter() - began:.1f} s")
    return base + 1, base + n


def query_plan(endpoint_id: str, seq: int) -> list[str]:
    """SQLite's plan for the statement the ORM sends for a deep page (same shape)."""
    conn = sqlite3.connect(f"file:{DB}?mode=ro", uri=True)
    plan = conn.execute(
        'EXPLAIN QUERY PLAN SELECT "seq","id","endpoint_id","environment","partner_id","data","created_at","updated_at" FROM "record" '
        'WHERE "endpoint_id"=? AND "environment"=? AND "seq"<? ORDER BY "seq" DESC LIMIT ?',
        (endpoint_id, "test", seq, 51),
    ).fetchall()
    conn.close()
    return [row[-1] for row in plan]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000, help="records to fill (default 1,000,000)")
    parser.add_argument("--reps", type=int, default=300, help="timed requests per page (default 300)")
    parser.add_argument("--deep-offset", type=int, help="records newer than the deep page (default: records - 1000)")
    args = parser.parse_args()
    deep_offset = args.deep_offset if args.deep_offset is not None else max(0, args.records - 1000)
    if not 0 <= deep_offset <= args.records - 50:
        raise SystemExit("--deep-offset must leave a full page of 50 records")
    import signal

    def on_term(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    harness.PIDS = harness.WORK / "read_depth.pids.json"
    harness.LOGS.mkdir(parents=True, exist_ok=True)
    harness.reap_leftovers()

    import shutil

    shutil.rmtree(DIR, ignore_errors=True)
    DIR.mkdir(parents=True)
    env = {**harness.threemin_env(), "THREEMIN_DATABASE_URL": f"sqlite://{DB}"}
    demo = subprocess.run([str(harness.THREEMIN), "demo", "--json"], env=env, cwd=DIR, capture_output=True, text=True, check=False)
    if demo.returncode != 0:
        raise SystemExit(f"threemin demo failed:\n{demo.stderr}")
    info = json.loads(demo.stdout)
    harness.log(f"filling {args.records:,} records")
    low, high = fill(args.records)
    # The deep page starts `deep_offset` records below the newest: its cursor is the seq just above.
    deep_cursor = encode_cursor(high - deep_offset + 1)
    expected_deep_first = high - deep_offset

    try:
        port = harness.free_port()
        server = harness.start(
            "threemin-read-depth", [str(harness.THREEMIN), "serve", "--port", str(port)], f"http://127.0.0.1:{port}", "/graphql", env=env, cwd=DIR
        )
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Authorization": f"Bearer {info['test_key']}", "Content-Type": "application/json"}

        def page(after: str | None) -> tuple[float, dict]:
            body = json.dumps({"query": QUERY, "variables": {"e": info["endpoint"], "after": after}})
            began = time.perf_counter()
            conn.request("POST", "/graphql", body, headers)
            response = conn.getresponse()
            raw = response.read()
            elapsed = time.perf_counter() - began
            if response.status != 200:
                raise SystemExit(f"records answered {response.status}: {raw[:300]!r}")
            answer = json.loads(raw)
            if answer.get("errors"):
                raise SystemExit(f"records answered errors: {answer['errors']}")
            return elapsed, answer["data"]["records"]

        # Check both pages hold what they should (50 rows, the expected positions).
        _, first = page(None)
        _, deep = page(deep_cursor)
        assert len(first["edges"]) == 50 and len(deep["edges"]) == 50, "a page has fewer than 50 records"
        check = sqlite3.connect(f"file:{DB}?mode=ro", uri=True)
        ids = dict(check.execute("SELECT seq, id FROM record WHERE seq IN (?, ?)", (high, expected_deep_first)).fetchall())
        check.close()
        assert first["edges"][0]["node"]["id"] == ids[high], "the first page does not start at the newest record"
        assert deep["edges"][0]["node"]["id"] == ids[expected_deep_first], "the deep page does not start where expected"

        for _ in range(20):  # warm-up
            page(None)
            page(deep_cursor)
        times: dict[str, list[float]] = {"first": [], "deep": []}
        for i in range(args.reps):
            order = (("first", None), ("deep", deep_cursor)) if i % 2 == 0 else (("deep", deep_cursor), ("first", None))
            for name, after in order:
                times[name].append(page(after)[0] * 1000)
        conn.close()
        peak = harness.peak_rss_mb(server.pid)[0]
    finally:
        harness.stop_all()

    def p90(values: list[float]) -> float:
        return statistics.quantiles(values, n=10)[-1]

    first_ms, deep_ms = statistics.median(times["first"]), statistics.median(times["deep"])
    lines = [
        "# Read depth: records(first: 50), first page vs a deep page",
        "",
        (
            f"- {args.records:,} records in one endpoint and environment (seq {low:,}–{high:,}); deep page: {deep_offset:,} records "
            f"below the newest (cursor encode_cursor({high - deep_offset + 1}))"
        ),
        (
            f"- `threemin serve` (default SQLite config, 1 worker); {args.reps} timed requests per page over one keep-alive "
            "connection, alternating; selection `edges { node { id data } } pageInfo { endCursor hasNextPage }`"
        ),
        "",
        "| page | median ms | p90 ms |",
        "|---|---:|---:|",
        f"| first | {first_ms:.2f} | {p90(times['first']):.2f} |",
        f"| deep ({deep_offset:,} in) | {deep_ms:.2f} | {p90(times['deep']):.2f} |",
        "",
        f"deep ÷ first: {deep_ms / first_ms:.2f}; server peak RSS {peak:.0f} MB",
        "",
        "SQLite's plan for the deep page's statement: " + "; ".join(query_plan(info["endpoint"], high - deep_offset + 1)),
        "",
    ]
    text = "\n".join(lines)
    (harness.WORK / "read_depth.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        harness.stop_all()
        sys.exit(130)
