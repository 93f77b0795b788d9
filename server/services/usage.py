"""Usage facts of keys: last use, requests per operation, write shapes and clients, written in batches.

A request only notes in memory (no I/O on the request path); `flush` adds the
notes to the tables every few seconds from the server's lifespan and once
more at shutdown, in one transaction with one statement per table. A hard
crash loses at most the last few seconds of counts, never a record. Several
workers each flush their own notes: counts are added (upserts, never
overwrites) and last_used_at only moves forward, so the totals stay right.

What is counted, per key and UTC day:

- `UsageDay`: one request per record operation (a root field: createRecord
  and createRecords are CREATE, records and record READ, updateRecord UPDATE,
  deleteRecord DELETE), `refused` when the key was turned away (FORBIDDEN,
  FIELD_NOT_ALLOWED, NOT_FOUND — for a key, "no such" and "out of reach" are
  answered alike on purpose, so both count as refused), else `allowed`. Bad
  data (VALIDATION_FAILED, a record too large) is allowed: the key was
  permitted to try. Other root fields (viewer, introspection) are not record
  operations: they count only as a use. Requests refused before execution
  (deactivated, expired, rate limited) once the key was identified count as
  refused under the operation "" (BEFORE_EXECUTION), since no operation was
  read yet. Unknown and malformed keys count nowhere: they stay query-free.
- `UsageShape`: allowed requests per set of fields written, so the
  least-privilege dry run can tell which would fail under a narrower grant.
  Its `requests` for a key, day and operation add up to that UsageDay's
  `allowed`.
- `ClientDay`: requests per client of every request the key was accepted for
  (refusals before execution are not uses of the key). Their sum is the
  key's uses (`uses_since`). A client is the /24 (IPv4) or /64 (IPv6) network
  plus the user agent, kept only as a keyed hash: never the raw address or
  agent.

After RETENTION_DAYS, `roll_up` sums UsageDay into UsageMonth and deletes the
old day rows, shapes and clients.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from tortoise.functions import Sum
from tortoise.transactions import in_transaction

from server import tokens
from server.background import repeating
from server.errors import FieldNotAllowed, Forbidden, NotFound
from server.models import ApiKey, ClientDay
from server.policy import KeyPrincipal, Permission, Principal

log = logging.getLogger(__name__)

BEFORE_EXECUTION = ""  # the operation of requests refused before any was read
RETENTION_DAYS = 400
REFUSALS = (Forbidden, FieldNotAllowed, NotFound)
CLIENT_PURPOSE = "usage-client"  # its own HMAC label: a client hash is no other token's hash


def identified(error: Exception, key_id: str) -> Exception:
    """Mark a refusal with the key it refused, so the refusal is counted for that key.

    An attribute, not an extension: it is never sent to the caller.
    """
    error.key_id = key_id  # type: ignore[attr-defined]
    return error


class KeyUsage:
    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._last: dict[str, datetime] = {}
        self._allowed: Counter[tuple[str, date, str]] = Counter()
        self._refused: Counter[tuple[str, date, str]] = Counter()
        self._shapes: Counter[tuple[str, date, str, str]] = Counter()
        self._clients: Counter[tuple[str, date, str]] = Counter()
        self._rolled_up_on: date | None = None
        self.client = lru_cache(maxsize=4096)(self._client)

    # --- noting, on the request path: memory only ---------------------------------

    def note(self, key_id: str, when: datetime, ip: str | None = None, user_agent: str | None = None) -> None:
        """A request the key was accepted for (whatever its operations then do)."""
        self._last[key_id] = when
        self._clients[(key_id, when.date(), self.client(ip, user_agent))] += 1

    def note_refusal(self, error: Exception, when: datetime) -> None:
        """A request refused before execution; counted only if `identified` named its key."""
        key_id = getattr(error, "key_id", None)
        if key_id is None:
            return
        self._refused[(key_id, when.date(), BEFORE_EXECUTION)] += 1

    @contextlib.contextmanager
    def counting(self, principal: Principal, operation: Permission, fields: Iterable[str] = ()) -> Iterator[None]:
        """Count the record operation run inside the block as allowed or refused.

        `fields`: what it writes (create, update); only allowed requests keep it.
        People (dashboard sessions) are not counted: usage facts are about keys.
        """
        if not isinstance(principal, KeyPrincipal):
            yield
            return
        slot = (principal.key_id, datetime.now(UTC).date(), operation.value)
        try:
            yield
        except REFUSALS:
            self._refused[slot] += 1
            raise
        except BaseException:
            self._allowed_with(slot, fields)
            raise
        else:
            self._allowed_with(slot, fields)

    def _allowed_with(self, slot: tuple[str, date, str], fields: Iterable[str]) -> None:
        self._allowed[slot] += 1
        self._shapes[(*slot, ",".join(sorted(set(fields))))] += 1

    def _client(self, ip: str | None, user_agent: str | None) -> str:
        return tokens.hash_token(f"{_network(ip)}\n{user_agent or ''}", self._secret, CLIENT_PURPOSE)[:32]

    # --- writing, off the request path ---------------------------------------------

    async def flush(self) -> int:
        """Write what was noted; returns how many keys were marked used."""
        taken = self._take()
        last, allowed, refused, shapes, clients = taken
        if not any(taken):
            return 0
        try:
            return await _write(last, allowed, refused, shapes, clients)
        except Exception:
            # Put the counts back for the next flush rather than lose them.
            self._give_back(*taken)
            raise

    def _take(self) -> tuple[Any, ...]:
        taken = (self._last, self._allowed, self._refused, self._shapes, self._clients)
        self._last, self._allowed, self._refused, self._shapes, self._clients = {}, Counter(), Counter(), Counter(), Counter()
        return taken

    def _give_back(self, last: dict[str, datetime], *counts: Counter[Any]) -> None:
        for key_id, when in last.items():
            self._last[key_id] = max(when, self._last.get(key_id, when))
        for mine, theirs in zip((self._allowed, self._refused, self._shapes, self._clients), counts, strict=True):
            mine.update(theirs)

    async def roll_up_if_due(self, today: date) -> None:
        """At most once a day per process: the roll-up is idempotent, so workers may overlap."""
        if self._rolled_up_on != today:
            await roll_up(today)
            self._rolled_up_on = today

    @contextlib.asynccontextmanager
    async def flushing_every(self, seconds: float) -> AsyncIterator[None]:
        """Flush periodically while the block runs, and once more when it ends."""

        async def flush_and_roll_up() -> None:
            await self.flush()
            await self.roll_up_if_due(datetime.now(UTC).date())

        try:
            async with repeating(seconds, flush_and_roll_up, "writing key usage", at_once=False):
                yield
        finally:
            await self.flush()


def _network(ip: str | None) -> str:
    """The /24 or /64 around an address: one office or home network is one client."""
    if not ip:
        return ""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip  # not an address (a test transport's name): hashed as it is
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


# --- SQL ---------------------------------------------------------------------------
# Written out: ON CONFLICT … DO UPDATE adds to the row another worker may have
# written first, and reads the same on SQLite (≥3.24) and PostgreSQL.

_LAST_USED = 'UPDATE "api_key" SET "last_used_at" = ? WHERE "id" = ? AND ("last_used_at" IS NULL OR "last_used_at" < ?)'
_DAYS = (
    'INSERT INTO "usage_day" ("key_id", "day", "operation", "allowed", "refused") VALUES (?, ?, ?, ?, ?) '
    'ON CONFLICT ("key_id", "day", "operation") DO UPDATE SET '
    '"allowed" = "usage_day"."allowed" + EXCLUDED."allowed", "refused" = "usage_day"."refused" + EXCLUDED."refused"'
)
_SHAPES = (
    'INSERT INTO "usage_shape" ("key_id", "day", "operation", "fields", "fields_hash", "requests") VALUES (?, ?, ?, ?, ?, ?) '
    'ON CONFLICT ("key_id", "day", "operation", "fields_hash") DO UPDATE SET "requests" = "usage_shape"."requests" + EXCLUDED."requests"'
)
_CLIENTS = (
    'INSERT INTO "client_day" ("key_id", "day", "client", "requests") VALUES (?, ?, ?, ?) '
    'ON CONFLICT ("key_id", "day", "client") DO UPDATE SET "requests" = "client_day"."requests" + EXCLUDED."requests"'
)
_MONTHS = (
    'INSERT INTO "usage_month" ("key_id", "month", "operation", "allowed", "refused") VALUES (?, ?, ?, ?, ?) '
    'ON CONFLICT ("key_id", "month", "operation") DO UPDATE SET '
    '"allowed" = "usage_month"."allowed" + EXCLUDED."allowed", "refused" = "usage_month"."refused" + EXCLUDED."refused"'
)
# DELETE … RETURNING (SQLite ≥3.35, PostgreSQL): a day row is summed by
# whichever worker deleted it, so overlapping roll-ups never count it twice.
_EXPIRED_DAYS = 'DELETE FROM "usage_day" WHERE "day" < ? RETURNING "key_id", "day", "operation", "allowed", "refused"'


def _dialect(sql: str, dialect: str) -> str:
    if dialect != "postgres":
        return sql
    parts = sql.split("?")
    return "".join(part + (f"${n}" if n < len(parts) else "") for n, part in enumerate(parts, start=1))


def _fields_hash(fields: str) -> str:
    return hashlib.sha256(fields.encode()).hexdigest()[:32]


async def _write(
    last: dict[str, datetime],
    allowed: Counter[tuple[str, date, str]],
    refused: Counter[tuple[str, date, str]],
    shapes: Counter[tuple[str, date, str, str]],
    clients: Counter[tuple[str, date, str]],
) -> int:
    """One transaction, one statement per table; returns how many keys were marked used."""
    noted = set(last) | {k[0] for k in allowed} | {k[0] for k in refused} | {k[0] for k in clients}
    async with in_transaction() as connection:
        dialect = connection.capabilities.dialect
        # A key deleted since its request has nothing left to count for (and its
        # rows would break the foreign key and hold up every later flush).
        alive = set(await ApiKey.filter(id__in=sorted(noted)).using_db(connection).values_list("id", flat=True))
        stamp = ApiKey._meta.fields_map["last_used_at"].to_db_value
        # Sorted, so that workers flushing the same rows lock them in the same order.
        batches = (
            (_LAST_USED, [[stamp(when, ApiKey), key_id, stamp(when, ApiKey)] for key_id, when in sorted(last.items()) if key_id in alive]),
            (_DAYS, [[*slot, allowed[slot], refused[slot]] for slot in sorted(allowed | refused) if slot[0] in alive]),
            (_SHAPES, [[*slot, _fields_hash(slot[3]), n] for slot, n in sorted(shapes.items()) if slot[0] in alive]),
            (_CLIENTS, [[*slot, n] for slot, n in sorted(clients.items()) if slot[0] in alive]),
        )
        for sql, rows in batches:
            if rows:
                await connection.execute_many(_dialect(sql, dialect), rows)
    return len(batches[0][1])


async def roll_up(today: date) -> int:
    """Past RETENTION_DAYS: day counts summed into months, day rows, shapes and clients deleted.

    Returns how many day rows were rolled up.
    """
    cutoff = today - timedelta(days=RETENTION_DAYS)
    async with in_transaction() as connection:
        dialect = connection.capabilities.dialect
        expired = await connection.execute_query_dict(_dialect(_EXPIRED_DAYS, dialect), [cutoff])
        months: Counter[tuple[str, date, str, str]] = Counter()
        for row in expired:
            day = row["day"] if isinstance(row["day"], date) else date.fromisoformat(row["day"])
            month = (row["key_id"], day.replace(day=1), row["operation"])
            months[(*month, "allowed")] += row["allowed"]
            months[(*month, "refused")] += row["refused"]
        slots = sorted({slot[:3] for slot in months})
        if slots:
            rows = [[*slot, months[(*slot, "allowed")], months[(*slot, "refused")]] for slot in slots]
            await connection.execute_many(_dialect(_MONTHS, dialect), rows)
        for table in ("usage_shape", "client_day"):
            await connection.execute_query(_dialect(f'DELETE FROM "{table}" WHERE "day" < ?', dialect), [cutoff])
    return len(expired)


async def uses_since(key_ids: Sequence[str], days: int = 30) -> dict[str, int]:
    """Accepted requests per key over the last `days` days (today included), in one query."""
    since = datetime.now(UTC).date() - timedelta(days=days - 1)
    rows = (
        await ClientDay.filter(key_id__in=list(key_ids), day__gte=since)
        .annotate(total=Sum("requests"))
        .group_by("key_id")
        .values("key_id", "total")
    )
    return {row["key_id"]: int(row["total"] or 0) for row in rows}
