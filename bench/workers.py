"""createRecord / createRecords throughput: SQLite (1 worker) next to PostgreSQL with 1 and 2 workers.

    bash .ci/with-postgres .venv/bin/python bench/workers.py --duration 8 --rounds 3

`.ci/with-postgres` starts a private PostgreSQL 15 and passes its URL in
THREEMIN_TEST_DATABASE_URL (THREEMIN_PG_DURABLE=1 keeps its default fsync and
synchronous_commit, as a production server would have). Each setup gets fresh
data (`threemin demo`), rate limits off, then wrk (2 threads, 32 connections,
bench/post.lua checking every answer) runs each scenario in rounds that rotate
the order. Prints medians and writes bench/.work/workers.md. Reuses bench/run.py's
process and wrk helpers, so everything it started is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as bench  # noqa: E402  (bench/run.py, beside this file)

SETUPS = [("sqlite", 1), ("postgres", 1), ("postgres", 2)]


def database_url(kind: str, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite://{bench.WORK / name / 'threemin.sqlite3'}"
    server = os.environ["THREEMIN_TEST_DATABASE_URL"].rsplit("/", 1)[0]

    async def create() -> None:
        import asyncpg

        admin = await asyncpg.connect(os.environ["THREEMIN_TEST_DATABASE_URL"])
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()

    asyncio.run(create())
    return f"{server}/{name}"


def setup(kind: str, workers: int) -> tuple[bench.Server, dict[str, str]]:
    name = f"bench_{kind}_{workers}"
    folder = bench.WORK / name
    subprocess.run(["rm", "-rf", str(folder)], check=True)
    folder.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREEMIN_")}
    env |= {"THREEMIN_DATABASE_URL": database_url(kind, name), "THREEMIN_KEY_RATE_LIMIT": "0", "THREEMIN_PARTNER_RATE_LIMIT": "0"}
    env["THREEMIN_SECRET_KEY"] = "bench-secret-not-for-production"
    demo = subprocess.run([str(bench.THREEMIN), "demo", "--json"], env=env, cwd=folder, capture_output=True, text=True, check=False)
    if demo.returncode != 0:
        raise SystemExit(f"threemin demo failed:\n{demo.stderr}")
    port = bench.free_port()
    command = [str(bench.THREEMIN), "serve", "--port", str(port), "--workers", str(workers)]
    server = bench.start(name, command, f"http://127.0.0.1:{port}", "/graphql", env=env, cwd=folder)
    return server, json.loads(demo.stdout)


def scenarios(name: str, server: bench.Server, demo: dict[str, str]) -> list[bench.Scenario]:
    endpoint, bearer = demo["endpoint"], f"Bearer {demo['test_key']}"
    single = {"query": bench.SINGLE_MUTATION, "variables": {"e": endpoint, "d": bench.record(1)}}
    batch = {"query": bench.BATCH_MUTATION, "variables": {"e": endpoint, "d": [bench.record(i) for i in range(bench.BATCH)]}}
    return [
        bench.Scenario(f"{name}-single", f"{name} createRecord (1)", name, server.url + "/graphql", single, bearer, 1, "200", '"createRecord":{"id":"rec_', '"errors"'),
        bench.Scenario(f"{name}-batch", f"{name} createRecords (100)", name, server.url + "/graphql", batch, bearer, bench.BATCH, "200", '"createRecords":[{"id":"rec_', '"errors"'),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if not os.environ.get("THREEMIN_TEST_DATABASE_URL"):
        raise SystemExit("no PostgreSQL: run it as `bash .ci/with-postgres .venv/bin/python bench/workers.py`")
    bench.ensure_wrk()
    for folder in (bench.LOGS, bench.BODIES):
        folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict]] = {}
    try:
        all_scenarios = []
        for kind, workers in SETUPS:
            server, demo = setup(kind, workers)
            all_scenarios += scenarios(f"{kind}-{workers}w", server, demo)
        for scenario in all_scenarios:
            scenario.write_body()
            bench.probe(scenario)
            bench.run_wrk(scenario, 2, args, "warmup")
        for round_ in range(args.rounds):
            shift = round_ % len(all_scenarios)
            for scenario in all_scenarios[shift:] + all_scenarios[:shift]:
                result = bench.run_wrk(scenario, args.duration, args, f"r{round_}")
                bench.log(f"{scenario.key}: {result['records_per_s']:.0f} records/s, p99 {result['p99_ms']:.1f} ms, bad {result['bad']}")
                results.setdefault(scenario.key, []).append(result)
    finally:
        bench.stop_all()
    lines = [
        f"wrk -t{args.threads} -c{args.connections}, medians of {args.rounds} interleaved {args.duration}-second rounds, {os.cpu_count()} cores",
        "",
        "| setup | createRecord records/s | p99 | createRecords (100) records/s | p99 |",
        "|---|---|---|---|---|",
    ]
    for kind, workers in SETUPS:
        name = f"{kind}-{workers}w"
        single, batch = results[f"{name}-single"], results[f"{name}-batch"]
        cells = []
        for runs in (single, batch):
            bad = sum(r["bad"] + r["socket_errors"] for r in runs)
            cells += [f"{statistics.median(r['records_per_s'] for r in runs):,.0f}" + (f" ({bad} bad)" if bad else ""),
                      f"{statistics.median(r['p99_ms'] for r in runs):,.0f} ms"]
        lines.append(f"| {kind}, {workers} worker{'s' if workers > 1 else ''} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    (bench.WORK / "workers.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
