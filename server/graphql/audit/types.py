"""The audit log as GraphQL: who did what to which object, when and from where."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from server import models
from server.graphql.records.types import PageInfo


@strawberry.type(description="One change, reveal, claim or sign-in. Never holds a key's secret.")
class AuditEvent:
    action: str
    actor: str = strawberry.field(description="A user id, a key id, or cli.")
    target_kind: str
    target_id: str
    before: JSON | None
    after: JSON | None
    ip: str | None
    user_agent: str | None
    created_at: datetime


@strawberry.type
class AuditEventEdge:
    cursor: str
    node: AuditEvent


@strawberry.type
class AuditEventConnection:
    edges: list[AuditEventEdge]
    page_info: PageInfo

    @classmethod
    def from_events(cls, events: list[models.AuditEvent], more: bool, cursor: Callable[[int], str]) -> AuditEventConnection:
        edges = [
            AuditEventEdge(
                cursor=cursor(e.seq),
                node=AuditEvent(
                    action=e.action,
                    actor=e.actor,
                    target_kind=e.target_kind,
                    target_id=e.target_id,
                    before=e.before,
                    after=e.after,
                    ip=e.ip,
                    user_agent=e.user_agent,
                    created_at=e.created_at,
                ),
            )
            for e in events
        ]
        return cls(edges=edges, page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None))
