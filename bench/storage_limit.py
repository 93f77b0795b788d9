"""The storage limit for batches: plain sqlite3 inserting threemin's record rows, 100 per transaction.

    .venv/bin/python bench/storage_limit.py                 # 300 transactions of 100 rows
    .venv/bin/python bench/storage_limit.py --batches 1000

A fresh threemin database in bench/.work/storage/ (`threemin demo --json`: the real
schema, its indexes and foreign keys), opened with threemin's own pragmas
(server.db.SQLITE_PRAGMAS, plus foreign_keys=ON as tortoise sets it), then
`BEGIN; executemany(INSERT …100 rows); COMMIT` in a loop with rows shaped as
createRecords writes them. No HTTP, no asyncio, no validation: what one SQLite
writer can store at best, to read `createRecords` throughput against.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.db import SQLITE_PRAGMAS  # noqa: E402
from server.ids import record_id  # noqa: E402
from server.services.records import INSERT  # noqa: E402

WORK = ROOT / "bench" / ".work" / "storage"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--size", type=int, default=100, help="rows per transaction (default 100)")
    args = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    threemin = ROOT / ".venv" / "bin" / "threemin"
    demo = json.loads(subprocess.run([str(threemin), "demo", "--json"], cwd=WORK, check=True, capture_output=True, text=True).stdout)
    connection = sqlite3.connect(WORK / "threemin.sqlite3", isolation_level=None)
    for name, value in {**SQLITE_PRAGMAS, "foreign_keys": "ON"}.items():
        connection.execute(f"PRAGMA {name}={value}")
    key_id, partner_id = connection.execute("SELECT id, partner_id FROM api_key WHERE environment = 'test' LIMIT 1").fetchone()
    sql = INSERT["sqlite"]
    when = "2026-12-04 23:00:00+00:00"
    started, stored = time.perf_counter(), 0
    for n in range(args.batches):
        rows = [
            [record_id(), demo["endpoint"], "test", partner_id, key_id, orjson.dumps({"customer": f"Customer {i}", "amount": 10 + i * 0.25, "note": "benchmark"}).decode(), when, when]
            for i in range(args.size)
        ]
        connection.execute("BEGIN")
        connection.executemany(sql, rows)
        connection.execute("COMMIT")
        stored += len(rows)
    seconds = time.perf_counter() - started
    print(f"plain sqlite3, {args.size} rows per transaction: {stored / seconds:,.0f} rows/s ({stored:,} rows in {seconds:.1f} s)")


if __name__ == "__main__":
    main()
