"""The test suite on PostgreSQL: chosen by THREEMIN_TEST_DATABASE_URL.

`bash .ci/with-postgres CMD` starts a private server and sets the variable to
a superuser URL. The session migrates one template database; each test gets
its own `CREATE DATABASE … TEMPLATE` copy, dropped afterwards. Measured here:
~50 ms to create and ~20 ms to drop with STRATEGY FILE_COPY (WAL_LOG: ~100 +
70 ms); truncating the 17 tables instead took ~70 ms and would leave
sequences and anything a test created outside them behind.

The admin statements run on a loop in a thread of their own, so they can be
used from sync fixtures without touching the event loop pytest-asyncio gives
each test.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

URL = os.environ.get("THREEMIN_TEST_DATABASE_URL", "")
ON_POSTGRES = URL.startswith(("postgres://", "postgresql://"))

def sqlite_only(why: str) -> pytest.MarkDecorator:
    """Skips a test on PostgreSQL, saying why it is about SQLite alone."""
    return pytest.mark.skipif(ON_POSTGRES, reason=f"SQLite only: {why}")

T = TypeVar("T")


class Databases:
    """Creates and drops the suite's databases on the server at URL."""

    def __init__(self, url: str) -> None:
        self._server = url.rsplit("/", 1)[0]
        # The process id keeps two suites on one server (two engineers, xdist) apart.
        self._prefix = f"threemin_{os.getpid()}"
        self._numbers = itertools.count()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="postgres-admin")
        self._thread.start()
        self._admin = self.run(self._connect(url))
        self.template = ""

    def url(self, name: str) -> str:
        return f"{self._server}/{name}"

    def create(self, template: str | None = None) -> str:
        """A new database (a copy of `template`, else empty); returns its name."""
        name = f"{self._prefix}_{next(self._numbers)}"
        copy = f' TEMPLATE "{template}" STRATEGY FILE_COPY' if template else ""
        self._execute(f'CREATE DATABASE "{name}"{copy}')
        return name

    def drop(self, name: str) -> None:
        # FORCE: a server process a test started may still hold a connection.
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self.run(self._admin.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    async def _connect(self, url: str) -> Any:
        import asyncpg

        return await asyncpg.connect(url)

    def _execute(self, sql: str) -> None:
        self.run(self._admin.execute(sql))

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=120)


async def table_names() -> list[str]:
    """Every table of the open database, on either engine."""
    from tortoise.context import require_context

    connection = require_context().db()
    if connection.capabilities.dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    else:
        sql = "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    return [row["name"] for row in await connection.execute_query_dict(sql)]


async def every_row_as_text() -> str:
    """All the rows of every table, as PostgreSQL prints them (where SQLite tests read the file)."""
    from tortoise.context import require_context

    connection = require_context().db()
    rows = [await connection.execute_query_dict(f'SELECT t::text AS row FROM "{name}" t') for name in await table_names()]
    return "\n".join(row["row"] for table in rows for row in table)
