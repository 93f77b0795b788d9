"""Verifying a presented collaboration key: the check every partner request starts with.

Cheapest first, and the first failure decides: shape and checksum (no
database), then one indexed SELECT by hash, then active, archived, expiry and
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
from tortoise.context import require_context

from server import keys
from server.errors import KeyDisabled, KeyExpired, Unauthenticated
from server.fields import FieldDefinition, parse_definitions
from server.keys import Environment
from server.policy import KeyPrincipal, Permission, RowScope
from server.services.usage import identified

_COLUMNS = (
    "k.id, k.workspace_id, k.partner_id, p.name, p.archived_at, k.endpoint_id, e.name, e.fields, e.archived_at, "
    "k.environment, k.permissions, k.readable_fields, k.writable_fields, k.row_scope, k.active, k.expires_at, "
    "k.key_hash, k.previous_expires_at, k.rate_limit"
)
_SQL = (
    f'SELECT {_COLUMNS} FROM "api_key" k JOIN "partner" p ON p.id = k.partner_id JOIN "endpoint" e ON e.id = k.endpoint_id '
    "WHERE k.key_hash = {one} OR k.previous_hash = {two}"
)
_PLACEHOLDERS = {"sqlite": ("?", "?"), "postgres": ("$1", "$1")}


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
    readable, writable = _json(readable), _json(writable)
    return KeyPrincipal(
        key_id=key_id,
        workspace_id=workspace_id,
        partner_id=partner_id,
        partner_name=partner_name,
        endpoint_id=endpoint_id,
        endpoint_name=endpoint_name,
        endpoint_fields=_definitions(endpoint_fields if isinstance(endpoint_fields, str) else orjson.dumps(endpoint_fields).decode()),
        environment=Environment(environment),
        permissions=frozenset(Permission(p) for p in _json(permissions)),
        readable_fields=None if readable is None else frozenset(readable),
        writable_fields=None if writable is None else frozenset(writable),
        row_scope=RowScope(row_scope),
        rate_limit=rate_limit,
    )


async def _lookup(presented_hash: str) -> tuple[Any, ...] | None:
    connection = require_context().db()
    one, two = _PLACEHOLDERS[connection.capabilities.dialect]
    params = [presented_hash] if one == two and one.startswith("$") else [presented_hash, presented_hash]
    _, rows = await connection.execute_query(_SQL.format(one=one, two=two), params)
    return tuple(rows[0]) if rows else None


@lru_cache(maxsize=1024)
def _definitions(stored: str) -> tuple[FieldDefinition, ...]:
    """An endpoint's parsed fields, cached by their stored text: an edit is a new text."""
    return tuple(parse_definitions(orjson.loads(stored)))


def _json(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, (str, bytes)) else value


def _time(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)
