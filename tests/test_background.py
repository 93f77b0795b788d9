"""What a server process repeats while it runs: the jobs run, survive failures, and stop with it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from server.app import create_app
from server.background import repeating
from server.models import ApiKey, IdempotentRequest


async def test_a_job_runs_at_once_again_and_after_a_failure_and_stops_with_the_block():
    runs: list[int] = []

    async def job() -> None:
        runs.append(len(runs))
        if len(runs) == 2:
            raise RuntimeError("one bad run")

    async with repeating(0.01, job, "test job"):
        while len(runs) < 4:
            await asyncio.sleep(0.01)
    stopped_at = len(runs)
    await asyncio.sleep(0.05)
    assert stopped_at >= 4 and len(runs) == stopped_at


async def test_the_server_forgets_idempotency_answers_older_than_a_day(settings, world):
    api_key = await ApiKey.filter(workspace_id=world.a.workspace).first()
    assert api_key is not None
    now = datetime.now(UTC)
    old = await IdempotentRequest.create(key=api_key, idempotency_key="old", request_hash="x" * 64, status=200, response="{}")
    fresh = await IdempotentRequest.create(key=api_key, idempotency_key="fresh", request_hash="x" * 64, status=200, response="{}")
    await IdempotentRequest.filter(id=old.id).update(created_at=now - timedelta(hours=25))
    app = create_app(settings)  # manages its own database, as `threemin serve` does
    async with app.router.lifespan_context(app):
        for _ in range(100):
            if not await IdempotentRequest.filter(id=old.id).exists():
                break
            await asyncio.sleep(0.02)
    assert not await IdempotentRequest.filter(id=old.id).exists()
    assert await IdempotentRequest.filter(id=fresh.id).exists()
