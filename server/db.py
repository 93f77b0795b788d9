"""Database configuration and migrations for a Settings object.

Migrations live in server/migrations/ and are made with tortoise's built-in
autodetector (`threemin makemigrations`); `pending_model_changes` lets a test
fail when a model changed without its migration.
"""

from __future__ import annotations

import contextlib
import sqlite3
import weakref
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import urlencode

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.context import TortoiseContext
from tortoise.migrations.api import migrate as migrate_api
from tortoise.migrations.autodetector import MigrationAutodetector

from server.settings import Settings

APP = "models"
MODELS_MODULE = "server.models"
MIGRATIONS_MODULE = "server.migrations"

# Each becomes a PRAGMA on the SQLite connection. tortoise leaves SQLite at
# synchronous=FULL, about 5x slower commits; NORMAL in WAL mode loses no
# committed transaction on a process crash, only (maybe) the last ones on a
# power cut. busy_timeout rides out a concurrent `threemin` CLI write.
SQLITE_PRAGMAS = {"journal_mode": "WAL", "synchronous": "NORMAL", "busy_timeout": "5000"}


def database_url(settings: Settings) -> str:
    url = settings.database_url
    if not settings.is_sqlite:
        return url
    base, _, query = url.partition("?")
    given = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
    return base + "?" + urlencode({**SQLITE_PRAGMAS, **given})


def tortoise_config(settings: Settings) -> dict[str, Any]:
    return {
        "connections": {"default": database_url(settings)},
        "apps": {APP: {"models": [MODELS_MODULE], "default_connection": "default", "migrations": MIGRATIONS_MODULE}},
        "use_tz": True,
        "timezone": "UTC",
    }


@contextlib.asynccontextmanager
async def open_database(settings: Settings, *, migrate: bool = True, global_fallback: bool = False) -> AsyncIterator[TortoiseContext]:
    """Connect (applying pending migrations first) and close on exit.

    `global_fallback` is for the server: uvicorn runs the lifespan in a task of
    its own, so requests cannot see a context set there through contextvars.
    """
    if migrate:
        await apply_migrations(settings)
    async with TortoiseContext() as ctx:
        await ctx.init(config=tortoise_config(settings), _enable_global_fallback=global_fallback)
        try:
            yield ctx
        finally:
            if global_fallback:
                _clear_global_context()


def _clear_global_context() -> None:
    import tortoise.context as tortoise_context

    tortoise_context._global_context = None


async def apply_migrations(settings: Settings) -> list[str]:
    """Apply every pending migration; return the names applied."""
    applied: list[str] = []

    def progress(event: str, app_label: str, name: str) -> None:
        if event.endswith("done") or event == "apply_success":
            applied.append(name)

    async with TortoiseContext():
        await migrate_api(config=tortoise_config(settings), progress=progress)
    return applied


async def pending_model_changes(settings: Settings) -> list[Any]:
    """Migration writers for model changes that have no migration yet."""
    config = tortoise_config(settings)
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        return await MigrationAutodetector(ctx.apps, config["apps"]).changes()


async def make_migrations(settings: Settings, name: str | None = None) -> list[str]:
    paths = []
    for writer in await pending_model_changes(settings):
        if name:
            number = writer.name.split("_", 1)[0]
            writer.name = f"{number}_{name}"
        paths.append(str(writer.write()))
    return paths


# --- small reads on the event loop's own thread (SQLite) ----------------------


class LoopReader:
    """A read-only sqlite3 connection used directly on the event loop's thread.

    Why: each statement through aiosqlite is a trip to its thread and back,
    about 200 µs here, while the indexed SELECT that verifies a key takes about
    20 µs. Blocking the loop for 20 µs is cheaper than the trip. Only in WAL
    mode, where a reader never waits for a writer; it reads in autocommit, so
    every statement sees everything committed before it (a key deactivated by
    any connection or process is refused on the very next request).
    """

    def __init__(self, path: str) -> None:
        # The very path aiosqlite opened (no URI to get wrong), made read-only by
        # query_only. timeout 0: never hold the loop; a busy database (WAL
        # recovery) is read through aiosqlite instead (`rows` returns None).
        self.connection = sqlite3.connect(path, timeout=0, isolation_level=None)
        self.connection.execute("PRAGMA query_only = ON")

    def rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]] | None:
        try:
            return self.connection.execute(sql, params).fetchall()
        except sqlite3.Error:
            return None


_readers: weakref.WeakKeyDictionary[BaseDBAsyncClient, LoopReader | None] = weakref.WeakKeyDictionary()


def loop_reader(client: BaseDBAsyncClient) -> LoopReader | None:
    """The LoopReader of a SQLite file in WAL mode, made on first use; None for anything else."""
    if client in _readers:
        return _readers[client]
    path = getattr(client, "filename", None)
    reader = None
    if client.capabilities.dialect == "sqlite" and path and path != ":memory:":
        try:
            candidate = LoopReader(path)
        except sqlite3.Error:
            candidate = None
        if candidate is not None and _in_wal_mode(candidate):
            reader = candidate
        elif candidate is not None:
            candidate.connection.close()
    _readers[client] = reader
    return reader


def _in_wal_mode(reader: LoopReader) -> bool:
    try:
        return reader.connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    except sqlite3.Error:
        return False
