"""The append-only audit log. Nothing here updates or deletes an event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from server.models import AuditEvent


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a change, and from where (no address for the command line)."""

    id: str
    ip: str | None = None
    user_agent: str | None = None


CLI = Actor("cli")


async def log(
    workspace_id: str | None,
    actor: Actor,
    action: str,
    target_kind: str,
    target_id: str,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    await AuditEvent.create(
        workspace_id=workspace_id,
        actor=actor.id,
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        before=before,
        after=after,
        ip=actor.ip,
        user_agent=(actor.user_agent or None) and actor.user_agent[:300],
    )
