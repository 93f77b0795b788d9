"""Migrations: they match the models, and `threemin migrate` builds a database from nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import server

from server.db import apply_migrations, pending_model_changes
from server.settings import Settings
from tests.postgres import sqlite_only


async def test_every_model_change_has_its_migration():
    missing = await pending_model_changes(Settings(database_url="sqlite://:memory:"))
    assert missing == [], "models changed without a migration: run `threemin makemigrations --name NAME`"


async def test_migrate_builds_every_table_and_is_idempotent(tmp_path):
    settings = Settings(database_url=f"sqlite://{tmp_path / 'fresh.sqlite3'}")
    every = sorted(path.stem for path in (Path(server.__file__).parent / "migrations").glob("0*.py"))
    assert every[:4] == ["0001_initial", "0002_accounts_claims_roll_usage", "0003_key_rate_limit", "0004_safety_usage_idempotency"]
    assert await apply_migrations(settings) == every
    assert await apply_migrations(settings) == []
    tables = {row[0] for row in sqlite3.connect(tmp_path / "fresh.sqlite3").execute("select name from sqlite_master where type='table'")}
    assert {"workspace", "endpoint", "partner", "api_key", "record", "audit_event", "usage_day", "client_day", "idempotent_request"} <= tables


@sqlite_only("its PRAGMAs")
async def test_sqlite_runs_with_wal_and_synchronous_normal(settings, db):
    from tortoise.context import require_context

    connection = require_context().db()
    assert (await connection.execute_query_dict("PRAGMA journal_mode"))[0]["journal_mode"] == "wal"
    # 1 = NORMAL (tortoise's default would be 2 = FULL, ~5x slower commits)
    assert (await connection.execute_query_dict("PRAGMA synchronous"))[0]["synchronous"] == 1


def _indexes(path) -> set[tuple[str, str]]:
    """(table, indexed columns) of every index, names aside."""
    connection = sqlite3.connect(path)
    found = set()
    for (name, table) in connection.execute("select name, tbl_name from sqlite_master where type='index'"):
        if table == "tortoise_migrations":
            continue
        columns = ",".join(row[2] for row in connection.execute(f'pragma index_info("{name}")'))
        found.add((table, columns))
    return found


async def test_migrations_build_the_same_indexes_as_the_models(tmp_path):
    from tortoise.context import TortoiseContext

    from server.db import tortoise_config

    migrated = Settings(database_url=f"sqlite://{tmp_path / 'migrated.sqlite3'}")
    await apply_migrations(migrated)
    generated = Settings(database_url=f"sqlite://{tmp_path / 'generated.sqlite3'}")
    async with TortoiseContext() as ctx:
        await ctx.init(config=tortoise_config(generated))
        await ctx.generate_schemas()
    assert _indexes(tmp_path / "migrated.sqlite3") == _indexes(tmp_path / "generated.sqlite3")
