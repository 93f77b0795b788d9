"""`threemin serve | migrate | createuser | workspace | endpoint | partner | key | demo | scan | export-schema | makemigrations`.

Every command reads the same settings as `serve` (THREEMIN_* variables) and
takes `--json` where a script may want the output; `scan` alone reads no
settings and opens no database, so it works in any folder (pre-commit). A
key's plaintext is printed exactly once, by the command that issues it; a
password is never an argument (it would sit in the shell history and in `ps`).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging.config
import os
import shlex
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from server import keys
from server import scan as scanner
from server.db import (
    apply_migrations,
    make_migrations,
    open_database,
    pending_model_changes,
)
from server.errors import NotFound, ThreeminError, ValidationFailed
from server.fields import parse_spec
from server.keys import Environment
from server.models import Membership, Workspace
from server.observability.logs import lean_log_records, log_config
from server.observability.metrics import clear_multiprocess_dir
from server.policy import OPERATOR, Role
from server.services import accounts, audit, idle, members, workspaces
from server.services import keys as key_service
from server.services.audit import CLI
from server.services.keys import Handover, KeyGrant
from server.settings import Settings, resolve_secret_key

Handler = Callable[[argparse.Namespace, Settings], Awaitable[int]]


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        raise SystemExit(2)
    if args.run is scan:  # before the settings: a pre-commit hook runs it in any repository
        raise SystemExit(scan(args))
    settings = Settings.from_env()
    if args.run is serve:
        raise SystemExit(serve(args, settings))
    try:
        raise SystemExit(asyncio.run(args.run(args, settings)))
    except ThreeminError as error:
        fields = error.extensions.get("fields")
        detail = "".join(f"\n  {name}: {why}" for name, why in (fields or {}).items())
        print(f"error: {error.message}{detail}", file=sys.stderr)
        raise SystemExit(1) from None


def _out(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


# --- serve and the database -------------------------------------------------


def serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from server.app import create_app

    if args.workers > 1 and settings.is_sqlite:
        print(SQLITE_ONE_WORKER, file=sys.stderr)
        return 2
    settings = resolve_secret_key(settings.replace(host=args.host or settings.host, port=args.port or settings.port))
    lean_log_records()
    logging.config.dictConfig(log_config(settings))  # JSON (or text) lines from the first one, migrations included
    clear_multiprocess_dir()  # before any worker counts: see observability/metrics.py
    asyncio.run(_announce_setup_link(settings))
    print(f"threemin: serving on http://{settings.host}:{settings.port} (GraphiQL at /graphql)", file=sys.stderr)
    # access_log off: uvicorn would log request lines as they came, and a
    # partner who wrongly puts a key in a URL must not have it written to disk.
    options: dict[str, Any] = {"host": settings.host, "port": settings.port, "log_level": settings.log_level, "access_log": False}
    options["log_config"] = log_config(settings)  # uvicorn's own loggers write the same lines, in every worker
    if args.workers == 1:
        uvicorn.run(create_app(settings), **options)
        return 0
    # Workers are new processes that import the app: they rebuild the settings
    # from this environment (the secret from its variable or file, never put in
    # the environment here). uvloop: on asyncio, uvicorn's shared socket never
    # gets TCP_NODELAY and each keep-alive request waits ~44 ms (STACK_NOTES).
    os.environ.update({"THREEMIN_HOST": settings.host, "THREEMIN_PORT": str(settings.port)})
    uvicorn.run("server.cli:worker_app", factory=True, workers=args.workers, loop="uvloop", http="httptools", **options)
    return 0


SQLITE_ONE_WORKER = (
    "threemin: --workers above 1 needs PostgreSQL (THREEMIN_DATABASE_URL=postgres://user:password@host/database).\n"
    "          Several processes writing one SQLite file fail with \"database is locked\"; on SQLite, serve with one worker."
)


def worker_app() -> Any:
    """The app of one `serve --workers N` worker process (uvicorn's factory)."""
    from server.app import create_app

    lean_log_records()  # a worker is a new interpreter

    return create_app(resolve_secret_key(Settings.from_env(), create=False))


async def _announce_setup_link(settings: Settings) -> None:
    """On a fresh install nobody can sign in: print the one-time link that creates the first owner."""
    async with open_database(settings):  # also applies pending migrations
        link = await members.setup_link(settings)
    if link:
        print(
            "threemin: nobody can sign in yet. Open this one-time setup link to create the first account\n"
            f"          and its workspace (it works once, for {settings.invitation_hours} hours; each start makes a new one):\n\n"
            f"  {link}\n",
            file=sys.stderr,
        )


async def migrate(args: argparse.Namespace, settings: Settings) -> int:
    applied = await apply_migrations(settings)
    print("applied: " + ", ".join(applied) if applied else "no migrations to apply")
    return 0


async def makemigrations(args: argparse.Namespace, settings: Settings) -> int:
    if args.check:
        missing = await pending_model_changes(settings.replace(database_url="sqlite://:memory:"))
        if missing:
            print("models changed without a migration: run `threemin makemigrations --name NAME`", file=sys.stderr)
            return 1
        print("migrations match the models")
        return 0
    for path in await make_migrations(settings.replace(database_url="sqlite://:memory:"), args.name):
        print(f"created {path}")
    return 0


async def export_schema(args: argparse.Namespace, settings: Settings) -> int:
    from server.graphql.schema import build_schema

    text = build_schema(settings).as_str() + "\n"
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


# --- people -------------------------------------------------------------------


def _new_password() -> str:
    """From THREEMIN_PASSWORD (for scripts), else asked twice without echo; never an argument."""
    password = os.environ.get("THREEMIN_PASSWORD")
    if password:
        return password
    try:
        first = getpass.getpass("Password: ")
        again = getpass.getpass("Password (again): ")
    except (EOFError, KeyboardInterrupt):
        raise SystemExit("\nerror: no password given (type it when asked, or set THREEMIN_PASSWORD)") from None
    if first != again:
        raise SystemExit("error: the passwords do not match")
    return first


async def createuser(args: argparse.Namespace, settings: Settings) -> int:
    password = _new_password()
    role = Role(args.role)
    # One transaction: a refused email, name or password leaves no empty
    # workspace, and a bad workspace no user without one. SQLite takes its
    # write lock at the first insert, after the password is hashed.
    async with open_database(settings), in_transaction():
        # The services' own messages speak of records and of `name`: say which option was wrong.
        try:
            user = await accounts.create_user(args.email, args.name, password, settings)
        except ValidationFailed as invalid:
            raise _not_created(invalid, {"email": "--email", "name": "--name"}) from None
        if args.workspace_name is not None:
            try:
                workspace = await workspaces.create_workspace(args.workspace_name, CLI)
            except ValidationFailed as invalid:
                raise _not_created(invalid, {"name": "--workspace-name"}) from None
        else:
            workspace = await _existing_workspace(args.workspace)
        # Directly: no service adds a member without an invitation yet (one belongs in services/members.py).
        await Membership.create(workspace_id=workspace.id, user_id=user.id, role=role.value)
        await audit.log(workspace.id, CLI, "member.join", "user", user.id, after={"role": role.value})
    data = {"user": user.id, "email": user.email, "workspace": workspace.id, "role": role.value}
    text = f"user {user.id} ({user.email}) is {role.value} of workspace {workspace.id} ({workspace.name})"
    _out(args, data, f"{text}\nSign in at {settings.base_url}/login")
    return 0


def _not_created(invalid: ValidationFailed, options: dict[str, str]) -> ValidationFailed:
    fields = {options.get(name, name): why for name, why in (invalid.extensions.get("fields") or {}).items()}
    return ValidationFailed("The user was not created.", fields=fields)


async def _existing_workspace(workspace_id: str | None) -> Workspace:
    try:
        return await workspaces.get_workspace(workspace_id)
    except NotFound as missing:
        if workspace_id:
            raise
        raise NotFound(f"{missing.message} Use --workspace-name NAME for a new one, or --workspace ID.") from None


# --- workspaces, endpoints, partners ----------------------------------------


async def workspace_create(args: argparse.Namespace, settings: Settings) -> int:
    async with open_database(settings):
        workspace = await workspaces.create_workspace(args.name, CLI)
    _out(args, {"id": workspace.id, "name": workspace.name}, f"workspace {workspace.id} ({workspace.name})")
    return 0


async def endpoint_create(args: argparse.Namespace, settings: Settings) -> int:
    field_list = [parse_spec(spec) for spec in args.field or []]
    if args.fields_json:
        field_list += json.loads(args.fields_json)
    async with open_database(settings):
        workspace = await workspaces.get_workspace(args.workspace)
        endpoint = await workspaces.create_endpoint(OPERATOR, workspace.id, args.name, field_list, CLI)
    _out(args, {"id": endpoint.id, "name": endpoint.name, "fields": endpoint.fields}, f"endpoint {endpoint.id} ({endpoint.name})")
    return 0


async def partner_create(args: argparse.Namespace, settings: Settings) -> int:
    async with open_database(settings):
        workspace = await workspaces.get_workspace(args.workspace)
        partner = await workspaces.create_partner(OPERATOR, workspace.id, args.name, CLI)
    _out(args, {"id": partner.id, "name": partner.name}, f"partner {partner.id} ({partner.name})")
    return 0


# --- keys ---------------------------------------------------------------------


def _names(value: str | None) -> list[str] | None:
    return None if value is None else [name.strip() for name in value.split(",") if name.strip()]


def _expiry(args: argparse.Namespace) -> datetime | None:
    if args.expires_in_days is not None:
        return datetime.now(UTC) + timedelta(days=args.expires_in_days)
    if args.expires:
        return datetime.fromisoformat(args.expires)
    return None


async def key_issue(args: argparse.Namespace, settings: Settings) -> int:
    settings = resolve_secret_key(settings)
    grant = KeyGrant.parse(
        _names(args.permissions) or [],
        readable_fields=_names(args.readable_fields),
        writable_fields=_names(args.writable_fields),
        row_scope=args.scope,
        expires_at=_expiry(args),
        rate_limit=args.rate_limit,
    )
    async with open_database(settings):
        workspace = await workspaces.get_workspace(args.workspace)
        issued = await key_service.issue_key(
            OPERATOR, workspace.id, args.partner, args.endpoint, Environment(args.env), grant, Handover.REVEAL, settings, CLI
        )
    key, plaintext = issued.key, issued.secret
    data = {"id": key.id, "key": plaintext, "environment": key.environment, "permissions": key.permissions}
    _out(args, data, f"key {key.id}\n\n  {plaintext}\n\nThis is the only time the key is shown. Store it in a secret manager now.")
    return 0


async def key_sweep_idle(args: argparse.Namespace, settings: Settings) -> int:
    async with open_database(settings):
        done = await idle.sweep()
    listed = [{"id": d.key_id, "workspace": d.workspace_id, "last_used_at": d.last_used_at.isoformat() if d.last_used_at else None,
               "idle_days": d.idle_days} for d in done]
    lines = [f"key {d['id']} deactivated: unused since {d['last_used_at'] or 'issue (never used)'}, limit {d['idle_days']} days" for d in listed]
    _out(args, {"deactivated": listed}, "\n".join(lines) or "no idle keys")
    return 0


async def key_set_active(args: argparse.Namespace, settings: Settings) -> int:
    active = args.action == "reactivate"
    async with open_database(settings):
        key = await key_service.set_active(OPERATOR, args.id, active, CLI)
    state = "active" if key.active else "deactivated"
    _out(args, {"id": key.id, "active": key.active}, f"key {key.id} ({keys.display(key.prefix, key.last4)}) is {state}")
    return 0


# --- demo -------------------------------------------------------------------


async def demo(args: argparse.Namespace, settings: Settings) -> int:
    settings = resolve_secret_key(settings)
    everything = KeyGrant.parse(["create", "read", "update", "delete"])
    async with open_database(settings):
        workspace = await workspaces.create_workspace("Demo", CLI)
        endpoint = await workspaces.create_endpoint(
            OPERATOR,
            workspace.id,
            "orders",
            [
                {"name": "customer", "type": "string", "required": True},
                {"name": "amount", "type": "number", "required": True},
                {"name": "note", "type": "string"},
            ],
            CLI,
        )
        partner = await workspaces.create_partner(OPERATOR, workspace.id, "Acme Shipping", CLI)
        issued = {
            env: await key_service.issue_key(OPERATOR, workspace.id, partner.id, endpoint.id, env, everything, Handover.REVEAL, settings, CLI)
            for env in Environment
        }
    test_key, live_key = issued[Environment.TEST].secret, issued[Environment.LIVE].secret
    data = {"workspace": workspace.id, "endpoint": endpoint.id, "partner": partner.id, "test_key": test_key, "live_key": live_key}
    _out(args, data, _demo_text(settings, endpoint.id, test_key, live_key))
    return 0


def _demo_text(settings: Settings, endpoint_id: str, test_key: str, live_key: str) -> str:
    url = f"http://{settings.host}:{settings.port}/graphql"
    create = {"query": f'mutation {{ createRecord(endpoint: "{endpoint_id}", data: {{customer: "Ada", amount: 42.5}}) {{ id createdAt data }} }}'}
    read = {"query": f'{{ records(endpoint: "{endpoint_id}", first: 5) {{ edges {{ node {{ id data }} }} }} }}'}

    def curl(body: dict[str, str]) -> str:
        return f'curl -s {url} -H "Authorization: Bearer $THREEMIN_KEY" -H "Content-Type: application/json" \\\n  -d {shlex.quote(json.dumps(body))}'

    return f"""Demo workspace ready: endpoint "orders" ({endpoint_id}) with fields customer, amount, note.

Test key (sandbox data):  {test_key}
Live key (production):    {live_key}
These keys are shown only now. Start the server (threemin serve), then:

export THREEMIN_KEY={test_key}
{curl(create)}
{curl(read)}
"""


# --- leak scanning --------------------------------------------------------------


def scan(args: argparse.Namespace) -> int:
    """Exit 1 when a key is found (so a hook stops the commit), 0 when none, 2 on usage errors.

    Only masked keys and their SHA-256 are printed, even with --json: the
    output of a scan lands in CI logs, which are a leak of their own.
    """
    missing = [path for path in args.paths if not os.path.exists(path)]
    if missing:
        print("error: no such file or folder: " + ", ".join(missing), file=sys.stderr)
        return 2
    if args.paths:
        report = scanner.scan_paths([Path(path) for path in args.paths], args.max_bytes)
    elif sys.stdin is not None and not sys.stdin.isatty():
        report = scanner.scan_stdin(sys.stdin.buffer)
    else:
        print("error: name files or folders to scan, or pipe text in (git diff | threemin scan)", file=sys.stderr)
        return 2
    for path, why in report.skipped:
        if why != "binary":  # a skipped text file may hide a key: say so
            print(f"threemin scan: skipped {path}: {why}", file=sys.stderr)
    found = report.findings
    counts = f"{report.scanned_files} file{'s' * (report.scanned_files != 1)} scanned"
    if report.skipped:
        counts += f", {len(report.skipped)} skipped (binary, too large or unreadable)"
    if found:
        live = sum(finding.environment == Environment.LIVE.value for finding in found)
        summary = (
            f"found {len(found)} threemin key{'s' * (len(found) != 1)}: {live} live, {len(found) - live} test. {counts}. "
            "Treat each key as leaked: roll or deactivate it in threemin, then remove it from the files."
        )
    else:
        summary = f"no threemin keys found. {counts}."
    data = {"findings": [finding.as_dict() for finding in found], "scanned_files": report.scanned_files}
    _out(args, data, "\n".join([*map(str, found), summary]))
    return 1 if found else 0


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


# --- argument parsing ---------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="threemin", description="Collect partners' data with safely managed API keys.")
    commands = parser.add_subparsers(title="commands")

    def command(parent: Any, name: str, run: Handler | Callable[..., int], help: str, json_flag: bool = True) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        if json_flag:
            sub.add_argument("--json", action="store_true", help="machine-readable output")
        return sub

    sub = command(commands, "serve", serve, "Run the service (migrations are applied first).", json_flag=False)
    sub.add_argument("--host", help="address to listen on (default 127.0.0.1, or THREEMIN_HOST)")
    sub.add_argument("--port", type=int, help="port (default 8000, or THREEMIN_PORT)")
    sub.add_argument("--workers", type=_positive_int, default=1, help="worker processes (default 1; more than 1 needs PostgreSQL)")
    command(commands, "migrate", migrate, "Apply pending database migrations.", json_flag=False)
    sub = command(commands, "makemigrations", makemigrations, "For developers: write a migration for changed models.", json_flag=False)
    sub.add_argument("--name", help="name of the new migration")
    sub.add_argument("--check", action="store_true", help="exit 1 if models changed without a migration")
    sub = command(commands, "export-schema", export_schema, "Print the GraphQL schema (SDL).", json_flag=False)
    sub.add_argument("--output", help="write to this file instead of standard output")

    sub = command(
        commands,
        "createuser",
        createuser,
        "Create a person who signs in to the dashboard, with a role in a workspace. "
        "The password comes from THREEMIN_PASSWORD or is asked for twice.",
    )
    sub.add_argument("--email", required=True)
    sub.add_argument("--name", required=True)
    where = sub.add_mutually_exclusive_group()
    where.add_argument("--workspace-name", help="create a new workspace with this name")
    where.add_argument("--workspace", help="workspace id (default: the only one)")
    sub.add_argument("--role", default="owner", choices=[role.value for role in Role], help="default: owner")

    group = commands.add_parser("workspace", help="Workspaces.").add_subparsers(title="workspace commands")
    sub = command(group, "create", workspace_create, "Create a workspace.")
    sub.add_argument("name")

    group = commands.add_parser("endpoint", help="Endpoints.").add_subparsers(title="endpoint commands")
    sub = command(group, "create", endpoint_create, "Create an endpoint with its fields.")
    sub.add_argument("name")
    sub.add_argument("--field", action="append", metavar="NAME:TYPE[:required]", help="a field, e.g. amount:number:required (repeat)")
    sub.add_argument("--fields-json", help="fields as a JSON list, for limits: [{\"name\":\"sku\",\"type\":\"string\",\"max_length\":20}]")
    sub.add_argument("--workspace", help="workspace id (default: the only one)")

    group = commands.add_parser("partner", help="Partners.").add_subparsers(title="partner commands")
    sub = command(group, "create", partner_create, "Create a partner.")
    sub.add_argument("name")
    sub.add_argument("--workspace", help="workspace id (default: the only one)")

    group = commands.add_parser("key", help="Collaboration keys.").add_subparsers(title="key commands")
    sub = command(group, "issue", key_issue, "Issue a key; its secret is printed once.")
    sub.add_argument("--endpoint", required=True, help="endpoint id (ep_…)")
    sub.add_argument("--partner", required=True, help="partner id (pt_…)")
    sub.add_argument("--env", required=True, choices=[e.value for e in Environment])
    sub.add_argument("--permissions", required=True, help="comma-separated: create,read,update,delete")
    sub.add_argument("--readable-fields", help="comma-separated field names the key may read (default: all)")
    sub.add_argument("--writable-fields", help="comma-separated field names the key may write (default: all)")
    sub.add_argument("--scope", default="all", choices=["all", "own"], help="own: only records of this partner")
    sub.add_argument("--expires", help="expiry as ISO 8601 with a time zone, e.g. 2027-06-30T00:00:00Z")
    sub.add_argument("--expires-in-days", type=int)
    sub.add_argument("--rate-limit", type=int, help="requests per minute for this key (default: THREEMIN_KEY_RATE_LIMIT)")
    sub.add_argument("--workspace", help="workspace id (default: the only one)")
    for action in ("deactivate", "reactivate"):
        sub = command(group, action, key_set_active, f"{action.capitalize()} a key, effective on the next request.")
        sub.add_argument("id", help="key id (key_…)")
        sub.set_defaults(action=action)
    command(group, "sweep-idle", key_sweep_idle, "Deactivate keys unused past their workspace's idle-key limit (for cron; the server also does it hourly).")

    sub = command(commands, "demo", demo, "Create a ready-to-try workspace with an endpoint, a partner and a test and a live key.")

    sub = command(commands, "scan", scan, "Find threemin keys (checksum-verified, shown masked) in files, folders or standard input; exit 1 if any.")
    sub.add_argument("paths", nargs="*", metavar="PATH", help="files and folders (recursive); none: read standard input")
    sub.add_argument("--max-bytes", type=_positive_int, default=scanner.MAX_BYTES, help="skip larger files (default: 10 MiB)")
    return parser
