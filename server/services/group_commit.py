"""Group commit: concurrent inserts share one transaction; each is acknowledged only after it commits.

Why: a record written in a transaction of its own costs three trips to the
database (BEGIN, INSERT, COMMIT) — on SQLite three hops to aiosqlite's thread
behind the one connection's lock, on PostgreSQL three round trips and a flush
of the log. Under load most of a createRecord's time went there. Here the
first insert to arrive starts a commit at once (no added wait when idle); the
inserts that arrive while it runs go together into the next one, in a single
`executemany`.

What each caller can rely on:
- all or nothing per call: if a shared commit fails because of a row (an
  integrity error), every call in it is retried alone, so one bad call never
  fails the others; any other failure (the database locked or gone) fails the
  whole group at once, since nothing of it was stored and retrying one by one
  would keep callers waiting far past their timeout;
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
from tortoise.exceptions import IntegrityError

from server.observability.request_info import begin

log = logging.getLogger("threemin.records")


class CommitStopped(Exception):
    """The committing task itself was stopped (the server shutting down) before it finished.

    The rows may or may not be stored: a COMMIT already sent completes in the
    database whatever happens to the task that sent it.
    """


@dataclass(slots=True)
class _Call:
    values: list[list[Any]]
    done: asyncio.Future[None]
    taken: bool = False  # in a commit that is running: past the point of no return


@dataclass(slots=True)
class GroupCommit:
    client_ref: weakref.ref[BaseDBAsyncClient]  # weak: the registry below is keyed by the client
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
                if call in self.pending:  # (a stopped committer has already emptied the queue)
                    self.pending.remove(call)  # never written
                raise
            await _outlast_cancellation(call.done)

    async def _commit_while_pending(self) -> None:
        begin(None)  # this task's own copy of the context: its log lines belong to no request
        group: list[_Call] = []
        try:
            while self.pending:
                group, self.pending = self.pending, []
                for call in group:
                    call.taken = True
                await self._commit_group(group)
        finally:
            self.running = None
            stopped, self.pending = [*group, *self.pending], []
            for call in stopped:  # only if this task itself was stopped
                if not call.done.done():
                    call.done.set_exception(CommitStopped("The server stopped while this write was being committed; it may not be stored."))

    async def _commit_group(self, group: list[_Call]) -> None:
        try:
            await self._commit([row for call in group for row in call.values])
        except IntegrityError as error:
            if len(group) == 1:
                _settle(group[0], error)
                return
            log.warning("a shared commit of %d calls broke a constraint; retrying each alone", len(group))
            for call in group:
                try:
                    await self._commit(call.values)
                except Exception as alone:
                    _settle(call, alone)
                else:
                    _settle(call, None)
        except Exception as error:
            for call in group:  # nothing of the group was stored: the same answer for all
                _settle(call, error)
        else:
            for call in group:
                _settle(call, None)

    async def _commit(self, rows: list[list[Any]]) -> None:
        client = self.client_ref()
        if client is None:
            raise CommitStopped("The database connection was closed; nothing was stored.")
        async with client._in_transaction() as connection:
            if len(rows) == 1:
                await connection.execute_insert(self.sql, rows[0])
            else:
                await connection.execute_many(self.sql, rows)


def _settle(call: _Call, error: BaseException | None) -> None:
    if call.done.done():
        return
    if error is None:
        call.done.set_result(None)
    else:
        call.done.set_exception(error)


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
        group = by_sql[sql] = GroupCommit(weakref.ref(client), sql)
    return group
