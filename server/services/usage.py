"""Last use of each key, written in batches instead of on every request.

A request only notes the time in a dict (no I/O); `flush` writes one UPDATE
per key used since the last flush, every few seconds from the server's
lifespan and once more at shutdown. A hard crash loses at most the last few
seconds of "last used" times, never a record. With several workers each one
flushes its own notes; an UPDATE only moves last_used_at forward, so the
newest time wins whichever worker writes last.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime

from tortoise.expressions import Q

from server.models import ApiKey

log = logging.getLogger(__name__)


class LastUsed:
    def __init__(self) -> None:
        self._pending: dict[str, datetime] = {}

    def note(self, key_id: str, when: datetime) -> None:
        self._pending[key_id] = when

    async def flush(self) -> int:
        pending, self._pending = self._pending, {}
        for key_id, when in pending.items():
            await ApiKey.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=when), id=key_id).update(last_used_at=when)
        return len(pending)

    @contextlib.asynccontextmanager
    async def flushing_every(self, seconds: float) -> AsyncIterator[None]:
        """Flush periodically while the block runs, and once more when it ends."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(seconds)
                try:
                    await self.flush()
                except Exception:  # a failed flush must not stop the next one
                    log.exception("could not write last-used times")

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.flush()
