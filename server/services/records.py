"""Records: the data partners send, read, update and delete.

Every function takes the principal first and starts with policy checks, so a
refused call has touched nothing. Reads always go through
`policy.record_filter`: the environment and endpoint come from the key, never
from the request, which is what keeps test and live data apart.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.context import require_context
from tortoise.transactions import in_transaction

from server import policy
from server.errors import NotFound, PayloadTooLarge, ValidationFailed
from server.fields import check_record
from server.ids import record_id
from server.keys import Environment
from server.models import Endpoint, Record
from server.policy import KeyPrincipal, Permission, Principal, Role, SessionPrincipal
from server.services.group_commit import group_for

COLUMNS = ("seq", "id", "endpoint_id", "environment", "partner_id", "data", "created_at", "updated_at")


@dataclass(frozen=True, slots=True)
class RecordRow:
    seq: int | None  # the paging position; None for a record just written (never paged from)
    id: str
    endpoint_id: str
    environment: str
    partner_id: str
    data: dict[str, Any]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[RecordRow]
    has_next_page: bool

    @property
    def end_cursor(self) -> str | None:
        return encode_cursor(self.rows[-1].seq) if self.rows else None


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"r{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The position in a cursor we made; anything else (edited, padded, out of range) is refused."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if raw[:1] == "r" and raw[1:].isascii() and raw[1:].isdigit():
            seq = int(raw[1:])
            if seq < 2**63 and encode_cursor(seq) == cursor:
                return seq
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ValidationFailed("Invalid cursor.", fields={"after": "is not a cursor from this API"})


def _row(values: dict[str, Any]) -> RecordRow:
    return RecordRow(**{name: values[name] for name in COLUMNS})


def _checked(principal: Principal, data: Any, max_bytes: int, *, where: str = "this one") -> dict[str, Any]:
    """The record as stored, if this key may write it and it fits the endpoint."""
    policy.check_writable(principal, data)
    return _fitted(principal, data, max_bytes, where=where)


def _fitted(principal: Principal, data: Any, max_bytes: int, *, where: str) -> dict[str, Any]:
    clean = check_record(principal.endpoint_fields, data)
    size = len(orjson.dumps(clean))
    if size > max_bytes:
        raise PayloadTooLarge(f"A record may be at most {max_bytes} bytes; {where} has {size}.")
    return clean


# Written out once: the ORM's Record.create builds this statement anew for every
# record, which cost about as much as the insert itself. A record is known in
# full before it is written, so nothing is read back.
_INSERT_INTO = 'INSERT INTO "record" ("id", "endpoint_id", "environment", "partner_id", "key_id", "data", "created_at", "updated_at") '
INSERT = {  # by tortoise dialect
    "sqlite": _INSERT_INTO + "VALUES (" + ", ".join(["?"] * 8) + ")",
    "postgres": _INSERT_INTO + "VALUES (" + ", ".join(f"${n}" for n in range(1, 9)) + ")",
}


def _new_rows(principal: KeyPrincipal, cleaned: list[dict[str, Any]]) -> list[RecordRow]:
    now = datetime.now(UTC)
    return [
        RecordRow(None, record_id(), principal.endpoint_id, principal.environment.value, principal.partner_id, clean, now, now)
        for clean in cleaned
    ]


async def _insert(principal: KeyPrincipal, rows: list[RecordRow]) -> None:
    """All the rows or none, committed before this returns.

    Outside a transaction the rows join concurrent inserts in one shared
    commit (group_commit.py); inside one (an idempotent request: the
    remembered answer and the write commit together) they are written there.
    """
    connection = require_context().db()
    dialect = connection.capabilities.dialect
    sql = INSERT[dialect]
    # SQLite keeps times as text in the form str() gives (what the ORM writes
    # and reads back); passing datetimes would lean on sqlite3's deprecated adapter.
    when = str(rows[0].created_at) if dialect == "sqlite" else rows[0].created_at
    values = [
        [row.id, row.endpoint_id, row.environment, row.partner_id, principal.key_id, orjson.dumps(row.data).decode(), when, when]
        for row in rows
    ]
    if not isinstance(connection, TransactionalDBClient):
        await group_for(connection, sql).insert(values)
    elif len(values) == 1:
        await connection.execute_insert(sql, values[0])
    else:
        await connection.execute_many(sql, values)


async def create_record(principal: Principal, endpoint_id: str, data: Any, *, max_bytes: int) -> RecordRow:
    policy.require_endpoint(principal, endpoint_id)
    policy.require(principal, Permission.CREATE)
    assert isinstance(principal, KeyPrincipal)  # require_endpoint let only keys through
    rows = _new_rows(principal, [_checked(principal, data, max_bytes)])
    await _insert(principal, rows)
    return rows[0]


async def create_records(principal: Principal, endpoint_id: str, batch: list[Any], *, max_bytes: int, max_count: int) -> list[RecordRow]:
    """All or nothing: every record is checked before any is written, in one transaction."""
    policy.require_endpoint(principal, endpoint_id)
    policy.require(principal, Permission.CREATE)
    assert isinstance(principal, KeyPrincipal)
    if len(batch) > max_count:
        raise PayloadTooLarge(f"At most {max_count} records per call; this one has {len(batch)}.")
    problems: dict[str, str] = {}
    cleaned: list[dict[str, Any]] = []
    for index, data in enumerate(batch):
        try:
            cleaned.append(_checked(principal, data, max_bytes, where=f"data[{index}]"))
        except ValidationFailed as exc:
            problems.update({f"data[{index}].{name}": why for name, why in exc.extensions.get("fields", {}).items()})
    if problems:
        raise ValidationFailed(f"{len({k.split('.')[0] for k in problems})} of {len(batch)} records do not fit; nothing was saved.", fields=problems)
    rows = _new_rows(principal, cleaned)
    if rows:
        await _insert(principal, rows)
    return rows


async def get_record(principal: Principal, record_id: str) -> RecordRow:
    if isinstance(principal, SessionPrincipal):
        found = await Record.filter(id=record_id).values(*COLUMNS, "endpoint__workspace_id")
        if not found:
            raise NotFound("No such record.")
        policy.require_role(principal, found[0]["endpoint__workspace_id"], Role.VIEWER, missing="No such record.")
        return _row(found[0])
    policy.require(principal, Permission.READ)
    found = await Record.filter(id=record_id, **policy.record_filter(principal)).values(*COLUMNS)
    if not found:
        raise NotFound("No such record.")
    return _row(found[0])


async def _read_scope(principal: Principal, endpoint_id: str, environment: Environment | None) -> dict[str, Any]:
    """The rows of one endpoint and environment a principal may list.

    A key reads its own environment (asking for the other one is NOT_FOUND, as
    for any endpoint it cannot reach); a person picks one, never both at once.
    """
    if isinstance(principal, SessionPrincipal):
        endpoint = await Endpoint.get_or_none(id=endpoint_id).only("id", "workspace_id")
        if endpoint is None:
            raise NotFound("No such endpoint.")
        policy.require_role(principal, endpoint.workspace_id, Role.VIEWER, missing="No such endpoint.")
        if environment is None:
            raise ValidationFailed(fields={"environment": "choose TEST or LIVE"})
        return {"endpoint_id": endpoint_id, "environment": environment.value}
    policy.require_endpoint(principal, endpoint_id)
    policy.require(principal, Permission.READ)
    if environment is not None and environment is not principal.environment:
        raise NotFound("No such endpoint.")
    return policy.record_filter(principal)


async def list_records(
    principal: Principal, endpoint_id: str, first: int, after: str | None, *, max_page: int, environment: Environment | None = None
) -> Page:
    """Newest first, by keyset: a page deep in the list costs what the first does."""
    scope = await _read_scope(principal, endpoint_id, environment)
    if not 0 <= first <= max_page:
        raise ValidationFailed(fields={"first": f"must be between 0 and {max_page}"})
    query = Record.filter(**scope)
    if after is not None:
        query = query.filter(seq__lt=decode_cursor(after))
    found = await query.order_by("-seq").limit(first + 1).values(*COLUMNS)
    return Page([_row(values) for values in found[:first]], len(found) > first)


async def update_record(principal: Principal, record_id: str, data: Any, *, max_bytes: int) -> RecordRow:
    """Merge the given fields into the record; None removes an optional field."""
    policy.require(principal, Permission.UPDATE)
    policy.check_writable(principal, data)
    patch = check_record(principal.endpoint_fields, data, partial=True)
    async with in_transaction():
        record = await Record.filter(id=record_id, **policy.record_filter(principal)).select_for_update().first()
        if record is None:
            raise NotFound("No such record.")
        merged = {name: value for name, value in {**record.data, **patch}.items() if value is not None}
        # Fields the key may not write can be in the stored record: only the
        # patch was checked against writable fields, the whole result is
        # checked against the endpoint.
        record.data = _fitted(principal, merged, max_bytes, where="the updated record")
        await record.save(update_fields=["data", "updated_at"])
    return _row({name: getattr(record, name) for name in COLUMNS})


async def delete_record(principal: Principal, record_id: str) -> str:
    policy.require(principal, Permission.DELETE)
    deleted = await Record.filter(id=record_id, **policy.record_filter(principal)).delete()
    if not deleted:
        raise NotFound("No such record.")
    return record_id
