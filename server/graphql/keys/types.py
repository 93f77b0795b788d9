"""Collaboration keys as people see them: settings, status and use, never the secret."""

from __future__ import annotations

from datetime import UTC, datetime

import strawberry
from strawberry.types import Info

from server import keys, models
from server.graphql.enums import Environment, Handover, KeyStatus, Permission, RowScope
from server.graphql.workspaces.types import Endpoint, Partner
from server.policy import Permission as PolicyPermission
from server.services import keys as key_service


@strawberry.type(description="A collaboration key: one partner, one endpoint, one environment.")
class ApiKey:
    id: strawberry.ID
    display: str = strawberry.field(description="The prefix and last 4 characters, e.g. tm_live_…x7Qa (????: not claimed yet).")
    environment: Environment
    permissions: list[Permission]
    readable_fields: list[str] | None = strawberry.field(description="null: every field.")
    writable_fields: list[str] | None = strawberry.field(description="null: every field.")
    row_scope: RowScope
    status: KeyStatus
    handover: Handover = strawberry.field(description="How the secret was handed over: revealed on screen, or claimed by link.")
    expires_at: datetime | None
    rate_limit: int | None = strawberry.field(description="Requests per minute for this key; null: the server's default.")
    previous_secret_expires_at: datetime | None = strawberry.field(description="After a roll: when the old secret stops working.")
    last_used_at: datetime | None
    created_at: datetime
    created_by: str = strawberry.field(description="The id of the user who issued it, or cli.")
    model: strawberry.Private[models.ApiKey]

    @classmethod
    def from_model(cls, key: models.ApiKey) -> ApiKey:
        now = datetime.now(UTC)
        previous = key.previous_expires_at if key.previous_hash and key.previous_expires_at and key.previous_expires_at > now else None
        return cls(
            id=strawberry.ID(key.id),
            display=keys.display(key.prefix, key.last4 or "????"),
            environment=keys.Environment(key.environment),
            permissions=[PolicyPermission(p) for p in sorted(key.permissions, key=[p.value for p in PolicyPermission].index)],
            readable_fields=key.readable_fields,
            writable_fields=key.writable_fields,
            row_scope=key.row_scope,
            status=key_service.status(key, now),
            handover=key_service.Handover(key.handover),
            expires_at=key.expires_at,
            rate_limit=key.rate_limit,
            previous_secret_expires_at=previous,
            last_used_at=key.last_used_at,
            created_at=key.created_at,
            created_by=key.created_by,
            model=key,
        )

    @strawberry.field
    async def partner(self, info: Info) -> Partner:
        return Partner.from_model(await info.context.loaders.partner.load(self.model.partner_id))

    @strawberry.field
    async def endpoint(self, info: Info) -> Endpoint:
        return Endpoint.from_model(await info.context.loaders.endpoint.load(self.model.endpoint_id))

    @strawberry.field(description="The issuing user's name (null for the command line or a removed user).")
    async def created_by_name(self, info: Info) -> str | None:
        if not self.model.created_by.startswith("usr_"):
            return None
        user = await info.context.loaders.user.load(self.model.created_by)
        return user.name if user else None

    @strawberry.field(description="Requests made with this key over the last 30 days (counts are written every few seconds).")
    async def uses_last_30_days(self, info: Info) -> int:
        return await info.context.loaders.uses_30_days.load(self.model.id)

@strawberry.type(description="A key just issued or rolled. `secret` is shown this once and never again.")
class IssuedKey:
    key: ApiKey
    secret: str | None = strawberry.field(description="The key itself (REVEAL handover and rolls). Store it now.")
    claim_url: str | None = strawberry.field(description="A one-time link for the partner (CLAIM handover).")
