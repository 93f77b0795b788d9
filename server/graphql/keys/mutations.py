"""Key lifecycle for people: issue (reveal or claim link), switch, roll, delete, permissions."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from server import keys, policy
from server.graphql.enums import Environment, Handover, Permission, RollGrace, RowScope
from server.graphql.keys.types import ApiKey, IssuedKey
from server.services import keys as key_service
from server.services.keys import KeyGrant


@strawberry.input(description="What a key may do. Fields are endpoint field names; null means every field.")
class KeyPermissionsInput:
    permissions: list[Permission]
    readable_fields: list[str] | None = None
    writable_fields: list[str] | None = None
    row_scope: RowScope = policy.RowScope.ALL
    expires_at: datetime | None = None
    rate_limit: int | None = strawberry.field(default=None, description="Requests per minute for this key; null: the server's default.")

    def grant(self) -> KeyGrant:
        return KeyGrant.parse(
            [p.value for p in self.permissions],
            readable_fields=self.readable_fields,
            writable_fields=self.writable_fields,
            row_scope=self.row_scope.value,
            expires_at=self.expires_at,
            rate_limit=self.rate_limit,
        )


@strawberry.input
class IssueKeyInput(KeyPermissionsInput):
    workspace: strawberry.ID
    partner: strawberry.ID
    endpoint: strawberry.ID
    environment: Environment
    handover: Handover = key_service.Handover.REVEAL


def _issued(issued: key_service.Issued) -> IssuedKey:
    return IssuedKey(key=ApiKey.from_model(issued.key), secret=issued.secret, claim_url=issued.claim_url)


@strawberry.type
class KeyMutation:
    @strawberry.mutation(description="Issue a key (ADMIN). REVEAL returns the secret once; CLAIM returns a one-time link instead and nobody here sees the secret.")
    async def issue_key(self, info: Info, input: IssueKeyInput) -> IssuedKey:
        ctx = info.context
        issued = await key_service.issue_key(
            ctx.principal, input.workspace, input.partner, input.endpoint, keys.Environment(input.environment.value),
            input.grant(), input.handover, ctx.settings, ctx.actor,
        )
        return _issued(issued)

    @strawberry.mutation(description="Switch a key off (ADMIN), effective on its very next request. Reversible.")
    async def deactivate_key(self, info: Info, id: strawberry.ID) -> ApiKey:
        return ApiKey.from_model(await key_service.set_active(info.context.principal, id, False, info.context.actor))

    @strawberry.mutation(description="Switch a key back on (ADMIN).")
    async def reactivate_key(self, info: Info, id: strawberry.ID) -> ApiKey:
        return ApiKey.from_model(await key_service.set_active(info.context.principal, id, True, info.context.actor))

    @strawberry.mutation(description="A new secret with the same settings (ADMIN); the old one works for the grace period, then stops.")
    async def roll_key(self, info: Info, id: strawberry.ID, grace: RollGrace) -> IssuedKey:
        ctx = info.context
        return _issued(await key_service.roll_key(ctx.principal, id, grace, ctx.settings, ctx.actor))

    @strawberry.mutation(description="Delete a key for good (ADMIN). Deactivate instead to keep the choice.")
    async def delete_key(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        return strawberry.ID(await key_service.delete_key(info.context.principal, id, info.context.actor))

    @strawberry.mutation(description="Replace what a key may do (ADMIN): operations, readable / writable fields, row scope, expiry.")
    async def set_key_permissions(self, info: Info, id: strawberry.ID, input: KeyPermissionsInput) -> ApiKey:
        key = await key_service.set_permissions(info.context.principal, id, input.grant(), info.context.actor)
        return ApiKey.from_model(key)

    @strawberry.mutation(description="A new one-time claim link for a key not claimed yet (ADMIN); earlier links stop working.")
    async def create_claim_link(self, info: Info, id: strawberry.ID) -> IssuedKey:
        ctx = info.context
        url = await key_service.create_claim_link(ctx.principal, id, ctx.settings, ctx.actor)
        key = await key_service.get_key(ctx.principal, id)
        return IssuedKey(key=ApiKey.from_model(key), secret=None, claim_url=url)
