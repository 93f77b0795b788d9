"""Endpoints (OWNER) and partners (ADMIN): create, edit, archive."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from server.graphql.workspaces.types import Endpoint, FieldInput, Partner
from server.services import workspaces


@strawberry.type
class WorkspaceMutation:
    @strawberry.mutation(description="Create an endpoint with its fields (OWNER).")
    async def create_endpoint(self, info: Info, workspace: strawberry.ID, name: str, fields: list[FieldInput]) -> Endpoint:
        ctx = info.context
        endpoint = await workspaces.create_endpoint(ctx.principal, workspace, name, [f.as_json() for f in fields], ctx.actor)
        return Endpoint.from_model(endpoint)

    @strawberry.mutation(description="Rename an endpoint and / or replace its fields (OWNER). Stored records are not rewritten.")
    async def update_endpoint(self, info: Info, id: strawberry.ID, name: str | None = None, fields: list[FieldInput] | None = None) -> Endpoint:
        ctx = info.context
        field_list = None if fields is None else [f.as_json() for f in fields]
        return Endpoint.from_model(await workspaces.update_endpoint(ctx.principal, id, ctx.actor, name=name, field_list=field_list))

    @strawberry.mutation(description="Archive an endpoint (OWNER): its keys stop working, its records stay.")
    async def archive_endpoint(self, info: Info, id: strawberry.ID) -> Endpoint:
        return Endpoint.from_model(await workspaces.archive_endpoint(info.context.principal, id, info.context.actor))

    @strawberry.mutation(description="Create a partner (ADMIN).")
    async def create_partner(self, info: Info, workspace: strawberry.ID, name: str) -> Partner:
        return Partner.from_model(await workspaces.create_partner(info.context.principal, workspace, name, info.context.actor))

    @strawberry.mutation(description="Rename a partner (ADMIN).")
    async def update_partner(self, info: Info, id: strawberry.ID, name: str) -> Partner:
        return Partner.from_model(await workspaces.update_partner(info.context.principal, id, name, info.context.actor))

    @strawberry.mutation(description="Archive a partner (ADMIN): its keys stop working, its records stay.")
    async def archive_partner(self, info: Info, id: strawberry.ID) -> Partner:
        return Partner.from_model(await workspaces.archive_partner(info.context.principal, id, info.context.actor))
