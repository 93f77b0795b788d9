"""GraphQL types of records and their connection."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from server import keys
from server.graphql.enums import Environment
from server.graphql.permissions import CanReadData
from server.policy import readable_view
from server.services.records import Page, RecordRow, encode_cursor


@strawberry.type(description="One submission of a partner to an endpoint, in one environment.")
class Record:
    id: strawberry.ID
    endpoint_id: strawberry.ID
    partner_id: strawberry.ID = strawberry.field(description="The partner whose key sent the record.")
    environment: Environment
    created_at: datetime
    updated_at: datetime
    row: strawberry.Private[RecordRow]

    @classmethod
    def from_row(cls, row: RecordRow) -> Record:
        return cls(
            id=strawberry.ID(row.id),
            endpoint_id=strawberry.ID(row.endpoint_id),
            partner_id=strawberry.ID(row.partner_id),
            environment=keys.Environment(row.environment),
            created_at=row.created_at,
            updated_at=row.updated_at,
            row=row,
        )

    @strawberry.field(
        permission_classes=[CanReadData],
        description="The record's fields. Needs READ; limited to the key's readable fields.",
    )
    def data(self, info: Info) -> JSON | None:
        view: dict[str, Any] = readable_view(info.context.principal, self.row.data)
        return view


@strawberry.type
class RecordEdge:
    cursor: str
    node: Record


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(description="Records, newest first. Page with `first` and `after: pageInfo.endCursor`.")
class RecordConnection:
    edges: list[RecordEdge]
    page_info: PageInfo

    @classmethod
    def from_page(cls, page: Page) -> RecordConnection:
        return cls(
            edges=[RecordEdge(cursor=encode_cursor(row.seq), node=Record.from_row(row)) for row in page.rows],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        )
