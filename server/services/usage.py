"""Key use: the last-used time and uses per day, written in batches.

A request only notes its key in memory (no I/O); `flush` writes one UPDATE
per key used since the last flush, and one upsert per key and day, every few
seconds from the server's lifespan and once more at shutdown. A hard crash
loses at most the last few seconds of these counts, never a record. With
several workers each one flushes its own notes: last_used_at only moves
forward, and daily counts are added, so the totals stay right.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F, Q
from tortoise.functions import Sum

from server.models import ApiKey, UsageDay

log = logging.getLogger(__name__)


class KeyUsage:
    def __init__(self) -> None:
        self._last: dict[str, datetime] = {}
        self._uses: Counter[tuple[str, date]] = Counter()

    def note(self, key_id: str, when: datetime) -> None:
        self._last[key_id] = when
        self._uses[(key_id, when.date())] += 1

    async def flush(self) -> int:
        """Write what was noted; returns how many keys were touched."""
        last, self._last = self._last, {}
        uses, self._uses = self._uses, Counter()
        try:
            for key_id, when in last.items():
                await ApiKey.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=when), id=key_id).update(last_used_at=when)
            for (key_id, day), count in uses.items():
                await _add_uses(key_id, day, count)
        except Exception:
            # Put the counts back for the next flush rather than lose them.
            for key_id, when in last.items():
                self._last[key_id] = max(when, self._last.get(key_id, when))
            self._uses.update(uses)
            raise
        return len(last)

    @contextlib.asynccontextmanager
    async def flushing_every(self, seconds: float) -> AsyncIterator[None]:
        """Flush periodically while the block runs, and once more when it ends."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await self.flush()
                except Exception:  # a failed flush must not stop the next one
                    log.exception("could not write key usage")

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.flush()


async def _add_uses(key_id: str, day: date, count: int) -> None:
    # Interim: every use counted as an allowed "read" until uses carry their operation.
    if await UsageDay.filter(key_id=key_id, day=day, operation="read").update(allowed=F("allowed") + count):
        return
    try:
        await UsageDay.create(key_id=key_id, day=day, operation="read", allowed=count)
    except IntegrityError:  # another worker created the row first: add to it
        await UsageDay.filter(key_id=key_id, day=day, operation="read").update(allowed=F("allowed") + count)
    except Exception:
        # The key was deleted meanwhile (foreign key): nothing left to count for.
        if await ApiKey.exists(id=key_id):
            raise


async def uses_since(key_ids: Sequence[str], days: int = 30) -> dict[str, int]:
    """Uses per key over the last `days` days (today included), in one query."""
    since = datetime.now(UTC).date() - timedelta(days=days - 1)
    rows = (
        await UsageDay.filter(key_id__in=list(key_ids), day__gte=since)
        .annotate(total=Sum("allowed"))
        .group_by("key_id")
        .values("key_id", "total")
    )
    return {row["key_id"]: int(row["total"] or 0) for row in rows}
