"""The append-only audit log. Nothing here updates or deletes an event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.expressions import Q

from server.models import ApiKey, AuditEvent
from server.policy import Principal, Role, require_role


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


@dataclass(frozen=True, slots=True)
class AuditFilter:
    key: str | None = None
    partner: str | None = None
    actor: str | None = None
    action: str | None = None


async def list_events(principal: Principal, workspace_id: str, first: int, after: int | None, where: AuditFilter) -> tuple[list[AuditEvent], bool]:
    """Newest first, keyset-paged by sequence number; any member may read."""
    require_role(principal, workspace_id, Role.VIEWER)
    query = AuditEvent.filter(workspace_id=workspace_id)
    if where.key:
        query = query.filter(target_kind="key", target_id=where.key)
    if where.partner:
        # The partner itself, or any change that names it (its keys carry it in before / after).
        key_ids = await ApiKey.filter(partner_id=where.partner).values_list("id", flat=True)
        query = query.filter(Q(target_kind="partner", target_id=where.partner) | Q(target_kind="key", target_id__in=list(key_ids)))
    if where.actor:
        query = query.filter(actor=where.actor)
    if where.action:
        query = query.filter(action=where.action)
    if after is not None:
        query = query.filter(seq__lt=after)
    found = await query.order_by("-seq").limit(first + 1)
    return found[:first], len(found) > first
