"""Reading records: a page of an endpoint's records, or one by id."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from server import keys
from server.graphql.enums import Environment
from server.graphql.records.types import Record, RecordConnection
from server.policy import Permission
from server.services import records


@strawberry.type
class RecordQuery:
    @strawberry.field(
        description="Records of an endpoint, newest first; `first` is at most 200. A key reads its own environment "
        "and needs READ; a person (any role) names the environment."
    )
    async def records(
        self, info: Info, endpoint: strawberry.ID, first: int = 50, after: str | None = None, environment: Environment | None = None
    ) -> RecordConnection:
        ctx = info.context
        env = None if environment is None else keys.Environment(environment.value)
        with ctx.key_usage.counting(ctx.principal, Permission.READ):  # a key's reads count in its usage facts
            page = await records.list_records(ctx.principal, endpoint, first, after, max_page=ctx.settings.max_page_size, environment=env)
        return RecordConnection.from_page(page)

    @strawberry.field(description="One record by id. A key needs READ; records outside its endpoint, environment or row scope are NOT_FOUND.")
    async def record(self, info: Info, id: strawberry.ID) -> Record | None:
        with info.context.key_usage.counting(info.context.principal, Permission.READ):
            return Record.from_row(await records.get_record(info.context.principal, id))
