"""Rate limits that hold across workers: on PostgreSQL the budgets live in the database.

Two `SharedRateLimiter`s stand for two worker processes (or machines): what one
spends, the other cannot. The sliding-window arithmetic is checked on its own.
"""

from __future__ import annotations

import pytest

from server.ratelimit import Budget, RateLimiter, SharedRateLimiter, _wait, limiter_for
from server.settings import Settings
from tests.postgres import ON_POSTGRES

postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL only: the shared limiter's SQL (run through .ci/with-postgres)")


def test_each_engine_gets_its_limiter():
    assert isinstance(limiter_for(Settings(database_url="sqlite://x.sqlite3")), RateLimiter)
    assert isinstance(limiter_for(Settings(database_url="postgres://u@h/db")), SharedRateLimiter)


@pytest.mark.parametrize(
    ("hits", "previous", "elapsed", "expected"),
    [
        (5, 0, 0.5, None),  # at the limit: allowed
        (3, 4, 0.5, None),  # 4 × 0.5 + 3 = 5: allowed
        # Refused; the retry is one more hit. It fits later in this window when
        # the previous share shrinks enough: 8 × (1 − t) + 2 + 1 ≤ 5 at t = 0.75.
        (2, 8, 0.5, pytest.approx(15.0)),
        # … or only in the next window, where this one's hits shrink: 4 × (1 − u) + 1 ≤ 5 at u = 0.
        (4, 4, 0.5, pytest.approx(30.0)),
        (6, 0, 0.5, pytest.approx(50.0)),  # 6 × (1 − u) + 1 ≤ 5 at u = 1/3: the half left plus 20 s
        (6, 9, 0.9, pytest.approx(26.0)),
    ],
)
def test_the_sliding_estimate_and_its_wait(hits, previous, elapsed, expected):
    assert _wait(Budget("b", 5), hits, previous, elapsed) == expected


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@postgres_only
async def test_two_workers_share_one_budget(db):
    clock = Clock(1_800_000_000.0)  # a window start for a 60 s period
    first, second = SharedRateLimiter(clock), SharedRateLimiter(clock)
    budget = Budget("key:key_shared", 5)
    assert [await first.spend([budget]) for _ in range(3)] == [None] * 3
    assert [await second.spend([budget]) for _ in range(2)] == [None] * 2
    refused = await second.spend([budget])
    assert refused is not None and refused[0] == budget and refused[1] == pytest.approx(80.0)  # 6 × (1 − u) + 1 ≤ 5: u = 1/3
    assert (await first.spend([budget])) is not None  # the other worker is refused too
    # Half-way through the next window half of the last one still counts: 7 × 0.5 = 3.5, room for one.
    clock.now += 90
    assert await first.spend([budget]) is None
    assert (await second.spend([budget])) is not None
    # Budgets are separate, and a limit of 0 means none.
    assert await first.spend([Budget("key:key_other", 5)]) is None
    assert all([await second.spend([Budget("key:key_free", 0)]) is None for _ in range(20)])


@postgres_only
async def test_the_first_exhausted_budget_is_named(db):
    limiter = SharedRateLimiter(Clock(1_800_000_000.0))
    key, partner = Budget("key:key_a", 10), Budget("partner:pt_a", 2)
    assert await limiter.spend([key, partner]) is None
    assert await limiter.spend([key, partner]) is None
    refused = await limiter.spend([key, partner])
    assert refused is not None and refused[0] == partner


@postgres_only
async def test_old_windows_are_deleted(db):
    from tortoise import connections

    clock = Clock(1_800_000_000.0)
    limiter = SharedRateLimiter(clock)
    await limiter.spend([Budget("key:key_old", 5)])
    clock.now += SharedRateLimiter.KEEP + SharedRateLimiter.PRUNE_EVERY + 60
    await limiter.spend([Budget("key:key_new", 5)])
    rows = await connections.get("default").execute_query_dict("SELECT bucket FROM rate_window ORDER BY bucket")
    assert [row["bucket"] for row in rows] == ["key:key_new"]
