"""Jobs a server process repeats while it runs (idle-key sweep, forgetting old idempotency answers)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def repeating(seconds: float, job: Callable[[], Awaitable[object]], what: str, *, at_once: bool = True) -> AsyncIterator[None]:
    """Run `job` every `seconds` while the block runs (and at once, unless told not to)."""

    async def loop() -> None:
        if not at_once:
            await asyncio.sleep(seconds)
        while True:
            try:
                await job()
            except Exception:  # one failed run must not stop the next
                log.exception("%s failed", what)
            await asyncio.sleep(seconds)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
