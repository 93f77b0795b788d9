"""The floor: the least a Python service can do to take one record, without GraphQL.

A plain Starlette route on uvicorn (1 worker, uvloop + httptools, no access log),
doing what threemin's `createRecord` must do and nothing more:

- the same key check: `server.services.verification.principal_for` with the same secret,
  on the same database (opened with `server.db.open_database(settings,
  migrate=False, global_fallback=True)` in the lifespan);
- the same policy checks (endpoint, CREATE), validation, record size limit and
  insert: `server.services.records.create_record`, the function createRecord's
  resolver calls (so its insert joins a shared group commit, as threemin's does);

and answers `{"id": "rec_…"}`. It reads the same THREEMIN_* settings as
`threemin serve` (so the same SQLite file and secret file).

    POST /records   Authorization: Bearer tm_…   {"endpoint": "ep_…", "data": {...}}
    GET  /health

Run: .venv/bin/python bench/floor.py --port 8001
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.db import open_database
from server.errors import BadRequest, ThreeminError, Unauthenticated
from server.services import records
from server.services.verification import principal_for
from server.settings import Settings, resolve_secret_key


def _json(body: dict, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def create_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_database(settings, migrate=False, global_fallback=True):
            yield

    async def create(request: Request) -> Response:
        try:
            scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not credentials.strip():
                raise Unauthenticated()
            principal = await principal_for(credentials.strip(), settings.secret_key, datetime.now(UTC))
            try:
                body = orjson.loads(await request.body())
            except orjson.JSONDecodeError:
                raise BadRequest("The body is not valid JSON.") from None
            if not isinstance(body, dict):
                raise BadRequest("The body must be a JSON object.")
            # The very function createRecord's resolver calls: the same policy
            # checks, validation, size limit and insert (a shared group commit).
            row = await records.create_record(principal, body.get("endpoint"), body.get("data"), max_bytes=settings.max_record_bytes)
        except ThreeminError as error:
            status = error.status if error.status != 200 else 400
            return _json({"error": error.as_extensions()["code"], "message": error.message}, status)
        return _json({"id": row.id})

    async def health(request: Request) -> Response:
        return _json({"ok": True})

    return Starlette(routes=[Route("/records", create, methods=["POST"]), Route("/health", health)], lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    settings = resolve_secret_key(Settings.from_env(), create=False)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, workers=1, loop="uvloop", http="httptools", access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
