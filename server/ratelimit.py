"""Rate limits, checked before any expensive work.

On SQLite (one process) they are token buckets in memory: a bucket holds up
to `limit` requests and refills at `limit` per period, so a client may burst
to its limit and then keeps a steady rate; checking costs a dict lookup and
no I/O.

On PostgreSQL several workers and machines serve one workspace, so buckets in
each process's memory would let a client reach N times its limit. There the
counts live in the database (`SharedRateLimiter`): one statement per request
adds a hit to each budget's current window and reads the previous one, and
the budget is the sliding-window estimate `previous × (1 − elapsed) + current`
(as Cloudflare's and Redis's rate limiters do): exact across processes,
without the 2× burst a fixed window allows at its edge.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tortoise import connections

from server.settings import Settings

# Past this many buckets, full ones (idle clients) are dropped: memory stays bounded.
MAX_BUCKETS = 100_000


@dataclass(frozen=True, slots=True)
class Budget:
    name: str  # e.g. "key:key_…"
    limit: int  # requests per period, 0: no limit
    period: float = 60.0  # seconds


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}

    def take(self, name: str, limit: int, now: float, period: float = 60.0) -> float | None:
        """Spend one request of `name`'s budget of `limit` per `period` seconds.

        None if allowed, else the seconds until one is free. A limit of 0 means none.
        """
        if limit <= 0:
            return None
        bucket = self._buckets.get(name)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._prune(now)
            bucket = self._buckets[name] = _Bucket(float(limit), now)
        rate = limit / period
        bucket.tokens = min(float(limit), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return None
        return (1.0 - bucket.tokens) / rate

    async def spend(self, budgets: Sequence[Budget]) -> tuple[Budget, float] | None:
        """One request from each budget: None if all allow it, else the first refusing one and the wait."""
        now = time.monotonic()
        for budget in budgets:
            wait = self.take(budget.name, budget.limit, now, budget.period)
            if wait is not None:
                return budget, wait
        return None

    def _prune(self, now: float) -> None:
        # A bucket idle for an hour has refilled (every period here is shorter): forgetting it changes nothing.
        for name in [n for n, b in self._buckets.items() if now - b.updated >= 3600.0]:
            del self._buckets[name]


# Windows start at multiples of their period (Unix seconds), so every worker
# agrees on them; `slot - period` is the previous window of the same budget.
_SPEND = """
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS t (bucket, slot, previous_slot)
), hit AS (
    INSERT INTO rate_window AS w (bucket, slot, hits) SELECT bucket, slot, 1 FROM input
    ON CONFLICT (bucket, slot) DO UPDATE SET hits = w.hits + 1
    RETURNING bucket, hits
)
SELECT hit.bucket, hit.hits, coalesce(previous.hits, 0) AS previous
FROM hit JOIN input ON input.bucket = hit.bucket
LEFT JOIN rate_window AS previous ON previous.bucket = input.bucket AND previous.slot = input.previous_slot
"""


class SharedRateLimiter:
    """Budgets shared by every process on one PostgreSQL database: see the module's docstring."""

    # Old windows are deleted now and then; the longest period (sign-in, 15 min) bounds what is still read.
    PRUNE_EVERY = 60.0
    KEEP = 3600

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._pruned = 0.0

    async def spend(self, budgets: Sequence[Budget]) -> tuple[Budget, float] | None:
        limited = [b for b in budgets if b.limit > 0]
        if not limited:
            return None
        now = self.clock()
        slots = [int(now // b.period * b.period) for b in limited]
        connection = connections.get("default")
        previous = [slot - int(b.period) for b, slot in zip(limited, slots, strict=True)]
        rows = await connection.execute_query_dict(_SPEND, [[b.name for b in limited], slots, previous])
        if now - self._pruned > self.PRUNE_EVERY:
            self._pruned = now
            await connection.execute_query("DELETE FROM rate_window WHERE slot < $1", [int(now) - self.KEEP])
        counts = {row["bucket"]: (row["hits"], row["previous"]) for row in rows}
        for budget, slot in zip(limited, slots, strict=True):
            hits, previous = counts[budget.name]
            wait = _wait(budget, hits, previous, (now - slot) / budget.period)
            if wait is not None:
                return budget, wait
        return None


def _wait(budget: Budget, hits: int, previous: int, elapsed: float) -> float | None:
    """None if the sliding estimate, this request included, is within the limit, else seconds until a retry is.

    The retry is one more hit. It fits in this window once the previous
    window's share has shrunk enough; otherwise in the next one, where this
    window's hits become the shrinking share.
    """
    limit = budget.limit
    if previous * (1.0 - elapsed) + hits <= limit:
        return None
    if previous and hits + 1 <= limit:
        at = 1.0 - (limit - hits - 1) / previous  # fraction of this window
        if at < 1.0:
            return max(0.0, at - elapsed) * budget.period
    at_next = max(0.0, 1.0 - (limit - 1) / hits)  # fraction of the next window
    return (1.0 - elapsed + at_next) * budget.period


Limiter = RateLimiter | SharedRateLimiter


def limiter_for(settings: Settings) -> Limiter:
    """In memory on SQLite (one process), in the database on PostgreSQL (any number of them)."""
    return RateLimiter() if settings.is_sqlite else SharedRateLimiter()


def retry_after(seconds: float) -> int:
    """Whole seconds for the Retry-After header, at least 1."""
    return max(1, math.ceil(seconds))
