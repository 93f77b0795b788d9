"""The checklist's fixes and the safety settings (ADMIN); each change is audit-logged by the services."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from server.graphql.enums import RollGrace
from server.graphql.keys.types import ApiKey, IssuedKey
from server.graphql.safety.types import DryRun, PermissionProposalInput, ReducedKey, SafetySettings, SafetySettingsInput
from server.services import advisor, safety_fixes, workspaces


@strawberry.type
class SafetyMutation:
    @strawberry.mutation(
        description="Deactivate every listed key (ADMIN on each; 1 to 500), all or none: one id that is not yours changes nothing."
    )
    async def deactivate_keys(self, info: Info, ids: list[strawberry.ID]) -> list[ApiKey]:
        found = await safety_fixes.deactivate_keys(info.context.principal, list(ids), info.context.actor)
        return [ApiKey.from_model(k) for k in found]

    @strawberry.mutation(
        description="Narrow a key's operations and writable fields (ADMIN) to `to`, or by default to what it used in the last "
        "`days` days. Refused with WOULD_REFUSE_REQUESTS (extensions wouldRefuse, requests) when that would have refused any of "
        "its requests in the window, unless acceptRefusals is true. Never widens; other settings stay."
    )
    async def reduce_key_permissions(
        self,
        info: Info,
        id: strawberry.ID,
        to: PermissionProposalInput | None = None,
        days: int | None = None,
        accept_refusals: bool = False,
    ) -> ReducedKey:
        ctx = info.context
        key, dry_run = await advisor.reduce_permissions(
            ctx.principal, id, ctx.actor, proposal=None if to is None else to.proposal(), days=days, accept_refusals=accept_refusals
        )
        return ReducedKey(key=ApiKey.from_model(key), dry_run=DryRun.from_dry_run(dry_run))

    @strawberry.mutation(
        description="For a key whose secret was revealed on screen (ADMIN): a one-time claim link for the partner instead. The "
        "revealed secret works for `grace` more, then stops; the key is UNCLAIMED until the partner opens the link."
    )
    async def replace_with_claim_link(self, info: Info, id: strawberry.ID, grace: RollGrace) -> IssuedKey:
        ctx = info.context
        key, url = await safety_fixes.replace_with_claim_link(ctx.principal, id, grace, ctx.settings, ctx.actor)
        return IssuedKey(key=ApiKey.from_model(key), secret=None, claim_url=url)

    @strawberry.mutation(
        description="Change the checklist thresholds and the idle-key policy (ADMIN); fields left out stay. Ranges: "
        "sharedKeyClients 1-10000, unusedKeyDays 1-3650, unusedPermissionDays 1-400, idleKeyDays 1-3650 or null (off)."
    )
    async def set_safety_settings(self, info: Info, workspace: strawberry.ID, input: SafetySettingsInput) -> SafetySettings:
        ctx = info.context
        found = await workspaces.set_safety_settings(ctx.principal, workspace, input.changes(), ctx.actor)
        return SafetySettings.from_model(found)
