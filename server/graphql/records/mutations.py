"""Writing records: create (one or a batch), update, delete."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from server.graphql.records.types import Record
from server.services import records


@strawberry.type
class RecordMutation:
    @strawberry.mutation(description="Send one record to an endpoint. Needs CREATE; only the key's writable fields.")
    async def create_record(self, info: Info, endpoint: strawberry.ID, data: JSON) -> Record:
        settings = info.context.settings
        row = await records.create_record(info.context.principal, endpoint, data, max_bytes=settings.max_record_bytes)
        return Record.from_row(row)

    @strawberry.mutation(description="Send up to 1,000 records at once: all are saved, or none. Needs CREATE.")
    async def create_records(self, info: Info, endpoint: strawberry.ID, data: list[JSON]) -> list[Record]:
        settings = info.context.settings
        rows = await records.create_records(
            info.context.principal, endpoint, data, max_bytes=settings.max_record_bytes, max_count=settings.max_batch_records
        )
        return [Record.from_row(row) for row in rows]

    @strawberry.mutation(description="Merge the given fields into a record (null removes an optional field). Needs UPDATE.")
    async def update_record(self, info: Info, id: strawberry.ID, data: JSON) -> Record:
        settings = info.context.settings
        row = await records.update_record(info.context.principal, id, data, max_bytes=settings.max_record_bytes)
        return Record.from_row(row)

    @strawberry.mutation(description="Delete a record for good; returns its id. Needs DELETE.")
    async def delete_record(self, info: Info, id: strawberry.ID) -> strawberry.ID:
        return strawberry.ID(await records.delete_record(info.context.principal, id))
