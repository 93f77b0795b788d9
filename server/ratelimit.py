"""Rate limits: token buckets in this process's memory.

A bucket holds up to `limit` requests and refills at `limit` per minute, so a
client may burst to its limit and then keeps a steady rate. Checking costs a
dict lookup and no I/O, so it runs before any expensive work.

The state is per process: with N workers (PostgreSQL) a client can get up to N
times its limit, spread over them. That keeps the check free of a database
round trip; README's Configuration says so, and a shared store is the way to
exact limits across machines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Past this many buckets, full ones (idle clients) are dropped: memory stays bounded.
MAX_BUCKETS = 100_000


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

    def _prune(self, now: float) -> None:
        # A bucket idle for an hour has refilled (every period here is shorter): forgetting it changes nothing.
        for name in [n for n, b in self._buckets.items() if now - b.updated >= 3600.0]:
            del self._buckets[name]


def retry_after(seconds: float) -> int:
    """Whole seconds for the Retry-After header, at least 1."""
    return max(1, math.ceil(seconds))
