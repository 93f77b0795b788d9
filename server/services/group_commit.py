"""Group commit: concurrent inserts share one transaction; each is acknowledged only after it commits.

Why: a record written in a transaction of its own costs three trips to the
database (BEGIN, INSERT, COMMIT) — on SQLite three hops to aiosqlite's thread
behind the one connection's lock, on PostgreSQL three round trips and a flush
of the log. Under load most of a createRecord's time went there. Here the
first insert to arrive starts a commit at once (no added wait when idle); the
inserts that arrive while it runs go together into the next one, in a single
`executemany`.

What each caller can rely on:
- all or nothing per call: if a shared commit fails, every call in it is
  retried alone, so one bad call never fails the others;
- acknowledged means committed: `insert` returns only after the COMMIT;
- a request stopped (its timeout) while its rows still wait has written
  nothing and never will; once its rows are in a commit that is running, the
  commit cannot be split, so `insert` waits for it and returns normally — the
  request is answered with what happened rather than a TIMEOUT that would
  hide a stored record.

A caller already inside a transaction (an idempotent request) must not come
here: its rows belong to its own transaction (records.py checks).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass, field
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

log = logging.getLogger("threemin.records")


class CommitStopped(Exception):
    """The committing task itself was stopped (the server shutting down): the transaction rolled back."""


@dataclass(slots=True)
class _Call:
    values: list[list[Any]]
    done: asyncio.Future[None]
    taken: bool = False  # in a commit that is running: past the point of no return


@dataclass(slots=True)
class GroupCommit:
    client: BaseDBAsyncClient
    sql: str
    pending: list[_Call] = field(default_factory=list)
    running: asyncio.Task[None] | None = None

    async def insert(self, values: list[list[Any]]) -> None:
        call = _Call(values, asyncio.get_running_loop().create_future())
        self.pending.append(call)
        if self.running is None:
            self.running = asyncio.create_task(self._commit_while_pending())
        try:
            await asyncio.shield(call.done)
        except asyncio.CancelledError:
            if not call.taken:
                self.pending.remove(call)  # never written
                raise
            await _outlast_cancellation(call.done)

    async def _commit_while_pending(self) -> None:
        group: list[_Call] = []
        try:
            while self.pending:
                group, self.pending = self.pending, []
                for call in group:
                    call.taken = True
                await self._commit_group(group)
        finally:
            self.running = None
            for call in (*group, *self.pending):  # only if this task itself was stopped
                if not call.done.done():
                    call.done.set_exception(CommitStopped("The server stopped before this write was committed; nothing was stored."))

    async def _commit_group(self, group: list[_Call]) -> None:
        try:
            await self._commit([row for call in group for row in call.values])
        except Exception as error:
            if len(group) == 1:
                group[0].done.set_exception(error)
                return
            log.warning("a shared commit of %d calls failed (%s); retrying each alone", len(group), type(error).__name__)
            for call in group:
                try:
                    await self._commit(call.values)
                except Exception as alone:
                    call.done.set_exception(alone)
                else:
                    call.done.set_result(None)
        else:
            for call in group:
                call.done.set_result(None)

    async def _commit(self, rows: list[list[Any]]) -> None:
        async with self.client._in_transaction() as connection:
            if len(rows) == 1:
                await connection.execute_insert(self.sql, rows[0])
            else:
                await connection.execute_many(self.sql, rows)


async def _outlast_cancellation(done: asyncio.Future[None]) -> None:
    """Wait for a commit already running, however often the caller is cancelled meanwhile."""
    while not done.done():
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            continue
    done.result()


_groups: weakref.WeakKeyDictionary[BaseDBAsyncClient, dict[str, GroupCommit]] = weakref.WeakKeyDictionary()


def group_for(client: BaseDBAsyncClient, sql: str) -> GroupCommit:
    """The one GroupCommit of this database client (and statement), made on first use."""
    by_sql = _groups.setdefault(client, {})
    group = by_sql.get(sql)
    if group is None:
        group = by_sql[sql] = GroupCommit(client, sql)
    return group
