"""The idle-key policy: deactivate (never delete) keys unused for a workspace's `idle_key_days`.

Off by default (`Workspace.idle_key_days` is None). The server sweeps at start
and every hour; `threemin key sweep-idle` does the same from cron. A key's
last use is its `last_used_at` (written in batches by usage.py), or its issue
time if it was never used. Each deactivation is one audit event
("key.deactivate" by "policy", with the reason and the last use) and leaves
`deactivated_reason = "idle"` on the key for the checklist.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from server.models import ApiKey, Workspace
from server.services import audit
from server.services.audit import Actor
from server.services.keys import DeactivationReason, describe

POLICY = Actor("policy")
SWEEP_SECONDS = 3600  # days are the unit of the policy: hourly is prompt enough
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Deactivated:
    key_id: str
    workspace_id: str
    last_used_at: datetime | None  # None: never used
    idle_days: int


def _idle_since(cutoff: datetime) -> Q:
    return Q(last_used_at__lt=cutoff) | Q(last_used_at__isnull=True, created_at__lt=cutoff)


async def sweep(now: datetime | None = None) -> list[Deactivated]:
    """Deactivate every active key idle past its workspace's limit; what was deactivated."""
    now = now or datetime.now(UTC)
    done: list[Deactivated] = []
    for workspace_id, days in await Workspace.filter(idle_key_days__isnull=False).order_by("id").values_list("id", "idle_key_days"):
        cutoff = now - timedelta(days=days)
        for key in await ApiKey.filter(_idle_since(cutoff), workspace_id=workspace_id, active=True).order_by("created_at"):
            if await _deactivate(key, cutoff, now, days):
                done.append(Deactivated(key.id, workspace_id, key.last_used_at, days))
    return done


async def _deactivate(key: ApiKey, cutoff: datetime, now: datetime, days: int) -> bool:
    before = describe(key)
    async with in_transaction():
        # The condition again, in the write itself: a use flushed (or a manual
        # change made) since the key was read keeps it as it is.
        changed = await ApiKey.filter(_idle_since(cutoff), id=key.id, active=True).update(
            active=False, deactivated_reason=DeactivationReason.IDLE.value, deactivated_at=now
        )
        if not changed:
            return False
        key.active, key.deactivated_reason, key.deactivated_at = False, DeactivationReason.IDLE.value, now
        after = describe(key) | {
            "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
            "idle_days": days,
        }
        await audit.log(key.workspace_id, POLICY, "key.deactivate", "key", key.id, before=before, after=after)
    return True


async def sweep_after(flush: Callable[[], Awaitable[object]]) -> None:
    """One run of the server's hourly sweep: `flush` writes pending uses first, so a key just used is kept."""
    await flush()
    for done in await sweep():
        log.info("key %s deactivated by the idle-key policy (%d days)", done.key_id, done.idle_days)
