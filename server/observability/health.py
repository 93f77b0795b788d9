"""/healthz (the process answers) and /readyz (it can serve: database reachable, migrations applied).

Neither needs a session or a key, neither is rate limited, and neither says
more than which check failed: no error text, no connection string. /healthz
never touches the database, so a slow database does not get a healthy
process restarted; /readyz takes it out of the load balancer instead.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import pkgutil
from functools import cache

from starlette.requests import Request
from starlette.responses import JSONResponse
from tortoise.context import require_context

from server.db import APP, MIGRATIONS_MODULE

# A readiness probe must answer before the prober gives up (often 1-5 s).
CHECK_SECONDS = 2.0
NO_STORE = {"cache-control": "no-store"}
log = logging.getLogger("threemin.health")


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


async def readyz(request: Request) -> JSONResponse:
    checks = {"database": "ok", "migrations": "ok"}
    try:
        connection = require_context().db()
        await asyncio.wait_for(connection.execute_query("SELECT 1"), CHECK_SECONDS)
    except Exception as error:
        log.warning("not ready: the database does not answer (%s)", type(error).__name__)
        checks.update(database="unreachable", migrations="unknown")
    else:
        try:
            pending = await asyncio.wait_for(pending_migrations(connection), CHECK_SECONDS)
        except Exception as error:
            log.warning("not ready: applied migrations cannot be read (%s)", type(error).__name__)
            checks["migrations"] = "unknown"
        else:
            if pending:
                log.warning("not ready: migrations not applied: %s", ", ".join(pending))
                checks["migrations"] = "pending"
    ready = all(state == "ok" for state in checks.values())
    body = {"status": "ready" if ready else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503, headers=NO_STORE)


async def pending_migrations(connection) -> list[str]:  # type: ignore[no-untyped-def]
    """Migrations shipped with this code that the database has not recorded as applied."""
    # tortoise's recorder table; a database never migrated has none and fails here.
    _, rows = await connection.execute_query('SELECT "app", "name" FROM "tortoise_migrations"')
    applied = {row["name"] for row in rows if row["app"] == APP}
    return [name for name in shipped_migrations() if name not in applied]


@cache
def shipped_migrations() -> tuple[str, ...]:
    # The same rule as tortoise's loader: every module of the package not starting with _ or ~.
    package = importlib.import_module(MIGRATIONS_MODULE)
    return tuple(sorted(name for _, name, is_package in pkgutil.iter_modules(package.__path__) if not is_package and name[0] not in "_~"))
