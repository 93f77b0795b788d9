"""A key's last use is recorded in batches, not with a write per request."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.models import ApiKey
from server.services.usage import KeyUsage
from tests.conftest import SECRET, gql_ok, key_id

VIEWER = "{ viewer { kind } }"


async def test_use_is_noted_in_memory_and_written_on_flush(app, client, world):
    plaintext = world.a.keys["test"]
    ident = await key_id(plaintext)
    for _ in range(3):
        await gql_ok(client, plaintext, VIEWER)
    assert (await ApiKey.get(id=ident)).last_used_at is None  # nothing written per request
    assert await app.state.key_usage.flush() == 1  # three uses, one write
    used = (await ApiKey.get(id=ident)).last_used_at
    assert used is not None and datetime.now(UTC) - used < timedelta(minutes=1)
    assert await app.state.key_usage.flush() == 0


async def test_a_refused_key_is_not_marked_used(app, client, world):
    await client.post("/graphql", json={"query": VIEWER}, headers={"Authorization": "Bearer tm_test_nope"})
    assert await app.state.key_usage.flush() == 0


async def test_an_older_time_never_overwrites_a_newer_one(world):
    ident = await key_id(world.a.keys["test"])
    now = datetime.now(UTC)
    recorder = KeyUsage(SECRET)
    recorder.note(ident, now)
    await recorder.flush()
    recorder.note(ident, now - timedelta(hours=1))  # e.g. a slower worker flushing late
    await recorder.flush()
    assert (await ApiKey.get(id=ident)).last_used_at == now


async def test_pending_uses_are_flushed_when_the_server_stops(world):
    ident = await key_id(world.a.keys["test"])
    recorder = KeyUsage(SECRET)
    async with recorder.flushing_every(3600):
        recorder.note(ident, datetime.now(UTC))
    assert (await ApiKey.get(id=ident)).last_used_at is not None
