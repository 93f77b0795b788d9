"""Writing records: create (one or a batch), update, delete.

Each mutation is counted in the key's usage facts (services/usage.py) with
the fields it writes, which the least-privilege dry run relies on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from server.graphql.records.types import Record
from server.policy import KeyPrincipal, Permission, Principal
from server.services import records


@strawberry.type
class RecordMutation:
    @strawberry.mutation(description="Send one record to an endpoint. Needs CREATE; only the key's writable fields.")
    async def create_record(self, info: Info, endpoint: strawberry.ID, data: JSON) -> Record:
        return await create_one(info.context, endpoint, data)

    @strawberry.mutation(description="Send up to 1,000 records at once: all are saved, or none. Needs CREATE.")
    async def create_records(self, info: Info, endpoint: strawberry.ID, data: list[JSON]) -> list[Record]:
        return await create_many(info.context, endpoint, data)

    @strawberry.mutation(description="Merge the given fields into a record (null removes an optional field). Needs UPDATE.")
    async def update_record(self, info: Info, id: strawberry.ID, data: JSON) -> Record:
        ctx = info.context
        with ctx.key_usage.counting(ctx.principal, Permission.UPDATE, written(ctx.principal, [data])):
            row = await records.update_record(ctx.principal, id, data, max_bytes=ctx.settings.max_record_bytes)
        return Record.from_row(row)

    @strawberry.mutation(description="Delete a record for good; returns its id. Needs DELETE.")
    async def delete_record(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        ctx = info.context
        with ctx.key_usage.counting(ctx.principal, Permission.DELETE):
            return strawberry.ID(await records.delete_record(ctx.principal, id))


async def create_one(ctx: Any, endpoint: str, data: Any) -> Record:
    """createRecord's work, also called by the direct path (graphql/fast_path.py)."""
    with ctx.key_usage.counting(ctx.principal, Permission.CREATE, written(ctx.principal, [data])):
        row = await records.create_record(ctx.principal, endpoint, data, max_bytes=ctx.settings.max_record_bytes)
    return Record.from_row(row)


async def create_many(ctx: Any, endpoint: str, data: list[Any]) -> list[Record]:
    """createRecords' work, also called by the direct path."""
    settings = ctx.settings
    with ctx.key_usage.counting(ctx.principal, Permission.CREATE, written(ctx.principal, data)):
        rows = await records.create_records(ctx.principal, endpoint, data, max_bytes=settings.max_record_bytes, max_count=settings.max_batch_records)
    return [Record.from_row(row) for row in rows]


def written(principal: Principal, batch: Iterable[Any]) -> set[str]:
    """The endpoint's fields named in the data (a null on update writes too).

    Names the endpoint does not have are left out: such a request fails
    whatever the grant, and the partner's made-up names need not be kept.
    """
    if not isinstance(principal, KeyPrincipal):
        return set()
    defined = {field.name for field in principal.endpoint_fields}
    return {name for data in batch if isinstance(data, dict) for name in data if name in defined}
