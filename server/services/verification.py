"""Verifying a presented collaboration key: the check every partner request starts with.

Cheapest first, and the first failure decides: shape and checksum (no
database), then one indexed SELECT by hash (on SQLite read directly on the
event loop's thread: db.LoopReader), then active, archived, expiry and
the grace period of a rolled secret. The SELECT is written out once rather
than built by the ORM on every request: building it cost ~0.8 ms, more than
everything else a createRecord does. There is no cache of keys, so a
deactivation is seen by the very next request in every worker.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.context import require_context

from server import keys
from server.db import loop_reader
from server.errors import KeyDisabled, KeyExpired, Unauthenticated
from server.fields import parse_definitions
from server.keys import Environment
from server.policy import KeyPrincipal, Permission, RowScope
from server.services.usage import identified

_COLUMNS = (
    "k.id, k.workspace_id, k.partner_id, p.name, p.archived_at, k.endpoint_id, e.name, e.fields, e.archived_at, "
    "k.environment, k.permissions, k.readable_fields, k.writable_fields, k.row_scope, k.active, k.expires_at, "
    "k.key_hash, k.previous_expires_at, k.rate_limit"
)
_FROM = f'SELECT {_COLUMNS} FROM "api_key" k JOIN "partner" p ON p.id = k.partner_id JOIN "endpoint" e ON e.id = k.endpoint_id '
# By tortoise dialect: the statement, and how many times the hash is passed to it.
_LOOKUP = {
    "sqlite": (_FROM + "WHERE k.key_hash = ? OR k.previous_hash = ?", 2),
    "postgres": (_FROM + "WHERE k.key_hash = $1 OR k.previous_hash = $1", 1),
}


async def principal_for(presented: str, secret: str, now: datetime) -> KeyPrincipal:
    """The principal of a presented key, or the error of the first check it fails.

    "No such key" and a malformed key get the same answer.
    """
    parsed = keys.parse(presented)
    if parsed is None:
        raise Unauthenticated()
    presented_hash = keys.hash_key(parsed.plaintext, secret)
    row = await _lookup(presented_hash)
    if row is None:
        raise Unauthenticated()
    (key_id, workspace_id, partner_id, partner_name, partner_archived, endpoint_id, endpoint_name, endpoint_fields,
     endpoint_archived, environment, permissions, readable, writable, row_scope, active, expires_at, key_hash, previous_expires,
     rate_limit) = row
    # From here the key is known: its refusals are counted in its usage facts.
    if not active or endpoint_archived or partner_archived:
        raise identified(KeyDisabled(), key_id)
    if expires_at is not None and _time(expires_at) <= now:
        raise identified(KeyExpired(), key_id)
    if key_hash != presented_hash and (previous_expires is None or _time(previous_expires) <= now):
        raise identified(KeyExpired("This key was rolled and its old secret no longer works: use the new one."), key_id)
    return _principal(
        key_id, workspace_id, partner_id, partner_name, endpoint_id, endpoint_name, _text(endpoint_fields),
        environment, _text(permissions), _text(readable), _text(writable), row_scope, rate_limit,
    )  # fmt: skip


@lru_cache(maxsize=4096)
def _principal(
    key_id: str, workspace_id: str, partner_id: str, partner_name: str, endpoint_id: str, endpoint_name: str, endpoint_fields: str,
    environment: str, permissions: str, readable: str | None, writable: str | None, row_scope: str, rate_limit: int | None,
) -> KeyPrincipal:
    """The principal of a key row's values, built once per distinct row.

    Only parsing is saved (JSON, enums, sets: a visible share of a small
    request): the row itself is read on every request, so a change to the
    key is a different row and is seen at once.
    """
    readable_fields, writable_fields = _json(readable), _json(writable)
    return KeyPrincipal(
        key_id=key_id,
        workspace_id=workspace_id,
        partner_id=partner_id,
        partner_name=partner_name,
        endpoint_id=endpoint_id,
        endpoint_name=endpoint_name,
        endpoint_fields=tuple(parse_definitions(orjson.loads(endpoint_fields))),
        environment=Environment(environment),
        permissions=frozenset(Permission(p) for p in orjson.loads(permissions)),
        readable_fields=None if readable_fields is None else frozenset(readable_fields),
        writable_fields=None if writable_fields is None else frozenset(writable_fields),
        row_scope=RowScope(row_scope),
        rate_limit=rate_limit,
    )


async def _lookup(presented_hash: str) -> tuple[Any, ...] | None:
    connection = require_context().db()
    sql, times = _LOOKUP[connection.capabilities.dialect]
    params = [presented_hash] * times
    reader = None if isinstance(connection, TransactionalDBClient) else loop_reader(connection)
    rows = reader.rows(sql, params) if reader is not None else None
    if rows is None:
        _, rows = await connection.execute_query(sql, params)
    return tuple(rows[0]) if rows else None


def _text(value: Any) -> Any:
    """JSON columns as text (SQLite gives text, asyncpg may give parsed values): hashable, for the cache."""
    return value if value is None or isinstance(value, str) else orjson.dumps(value).decode()


def _json(value: str | None) -> Any:
    return None if value is None else orjson.loads(value)


def _time(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
