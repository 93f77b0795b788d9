"""The least-privilege advisor and blast radius: read by any member of the key's workspace."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from server.graphql.records.types import RecordConnection
from server.graphql.safety.types import DryRun, KeyUsage, PermissionProposalInput
from server.services import advisor, blast_radius


@strawberry.type
class SafetyQuery:
    @strawberry.field(
        description="What a key really used in the last `days` days (default: the workspace's unusedPermissionDays; 1 to 400): "
        "per operation, fields written, clients, and the narrowest grant that would have served it (any member)."
    )
    async def key_usage(self, info: Info, id: strawberry.ID, days: int | None = None) -> KeyUsage:
        return KeyUsage.from_report(await advisor.usage_report(info.context.principal, id, days))

    @strawberry.field(
        description="Dry run of a proposed grant: how many of the key's allowed requests in the last `days` days it would "
        "have refused, exactly, with the breakdown (any member). Changes nothing."
    )
    async def key_dry_run(self, info: Info, id: strawberry.ID, proposal: PermissionProposalInput, days: int | None = None) -> DryRun:
        return DryRun.from_dry_run(await advisor.dry_run(info.context.principal, id, proposal.proposal(), days))

    @strawberry.field(
        description="Blast radius: the records a key created in [since, until), newest first, paged like `records` (any member)."
    )
    async def blast_radius(
        self,
        info: Info,
        id: strawberry.ID,
        since: datetime | None = None,
        until: datetime | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> RecordConnection:
        ctx = info.context
        page = await blast_radius.records_written(
            ctx.principal, id, first, after, max_page=ctx.settings.max_page_size, since=since, until=until
        )
        return RecordConnection.from_page(page)
