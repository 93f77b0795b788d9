"""Concurrent inserts share commits (services/group_commit.py) and each call stays all or nothing.

Runs on both engines: the group is per database client, and on PostgreSQL
the shared commit uses one pooled connection.
"""

from __future__ import annotations

import asyncio
import weakref
from datetime import UTC, datetime

import pytest
from tortoise.context import require_context
from tortoise.exceptions import OperationalError

from server.models import Record
from server.services import group_commit
from server.services.group_commit import GroupCommit, group_for
from server.services.records import INSERT
from tests.conftest import CREATE_ID_ONLY, CREATE_MANY, gql


@pytest.fixture
def commits(monkeypatch) -> list[int]:
    """The number of rows of every commit that runs."""
    seen: list[int] = []
    original = GroupCommit._commit

    async def counting(self, rows):
        seen.append(len(rows))
        await original(self, rows)

    monkeypatch.setattr(GroupCommit, "_commit", counting)
    return seen


async def test_concurrent_creates_share_commits_and_each_is_stored_once(client, world, commits):
    sends = [
        gql(client, world.a.keys["test"], CREATE_ID_ONLY, {"endpoint": world.a.orders, "data": {"customer": f"c{n}", "amount": n}})
        for n in range(40)
    ]
    responses = await asyncio.gather(*sends)
    assert all(r.status_code == 200 and "errors" not in r.json() for r in responses), [r.json() for r in responses]
    acknowledged = sorted(r.json()["data"]["createRecord"]["id"] for r in responses)
    assert sorted(await Record.all().values_list("id", flat=True)) == acknowledged
    assert len(set(acknowledged)) == 40
    assert sum(commits) == 40 and len(commits) < 40, commits  # some commit carried several requests


async def test_a_failing_call_in_a_shared_commit_fails_alone(client, world, commits):
    """A batch that breaks at the database (here a record id that already exists)
    shares a commit with good ones: it fails, they are stored, it stores nothing."""
    good = [{"customer": f"g{n}", "amount": n} for n in range(3)]
    assert (await gql(client, world.a.keys["test"], CREATE_MANY, {"endpoint": world.a.orders, "data": good[:1]})).status_code == 200
    stored_one = await Record.first()
    connection = require_context().db()
    group = next(iter(group_commit._groups[connection].values()))
    when = str(stored_one.created_at) if connection.capabilities.dialect == "sqlite" else stored_one.created_at
    row = [world.a.orders, "test", world.a.acme, stored_one.key_id, '{"customer": "x", "amount": 1}', when, when]
    bad = [["rec_fresh", *row], [stored_one.id, *row]]  # the second id exists already: the whole call must fail

    commits.clear()
    results = await asyncio.gather(
        group.insert([["rec_a", *row]]),
        group.insert(bad),
        group.insert([["rec_b", *row]]),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], Exception)
    stored = set(await Record.all().values_list("id", flat=True))
    assert {"rec_a", "rec_b"} <= stored and "rec_fresh" not in stored
    assert commits[0] == 4  # they were first tried together


async def test_a_group_is_kept_per_database_client(db):
    connection = require_context().db()
    assert group_for(connection, "INSERT 1") is group_for(connection, "INSERT 1")
    assert group_for(connection, "INSERT 1") is not group_for(connection, "INSERT 2")


def _rows(world, names: list[str], when: str) -> list[list]:
    return [[name, world.a.orders, "test", world.a.acme, None, '{"customer": "x", "amount": 1}', when, when] for name in names]


async def test_a_failure_that_is_not_a_rows_fault_fails_the_group_at_once(db, world, monkeypatch):
    """The database locked or gone: nothing of the group was stored, every call hears so
    from the one attempt (retrying each alone would keep them past their timeout)."""
    attempts: list[int] = []

    async def locked(self, rows):
        attempts.append(len(rows))
        await asyncio.sleep(0.01)
        raise OperationalError("database is locked")

    monkeypatch.setattr(GroupCommit, "_commit", locked)
    group = group_for(require_context().db(), "INSERT (failing)")
    results = await asyncio.gather(*(group.insert([[n]]) for n in range(5)), return_exceptions=True)
    assert all(isinstance(result, OperationalError) for result in results)
    assert attempts == [5]  # one shared attempt, no retry of each call alone


async def test_a_stopped_committer_leaves_nothing_behind_and_the_next_insert_works(db, world, monkeypatch):
    connection = require_context().db()
    when = "2026-01-01 00:00:00+00:00" if connection.capabilities.dialect == "sqlite" else datetime(2026, 1, 1, tzinfo=UTC)
    group = GroupCommit(weakref.ref(connection), INSERT[connection.capabilities.dialect])
    entered, release = asyncio.Event(), asyncio.Event()
    original = GroupCommit._commit

    async def stalled(self, rows):
        entered.set()
        await release.wait()
        await original(self, rows)

    monkeypatch.setattr(GroupCommit, "_commit", stalled)
    first = asyncio.create_task(group.insert(_rows(world, ["rec_first"], when)))
    await entered.wait()
    waiting = asyncio.create_task(group.insert(_rows(world, ["rec_waiting"], when)))
    await asyncio.sleep(0)
    assert group.running is not None
    group.running.cancel()  # the server shutting down mid-commit
    for task in (first, waiting):
        with pytest.raises(group_commit.CommitStopped):
            await task
    assert group.pending == [] and group.running is None

    monkeypatch.setattr(GroupCommit, "_commit", original)
    await group.insert(_rows(world, ["rec_after"], when))
    stored = set(await Record.all().values_list("id", flat=True))
    assert "rec_after" in stored and "rec_waiting" not in stored and "rec_first" not in stored
