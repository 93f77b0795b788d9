"""Reading a workspace, and a key by id, for its members."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from server.errors import NotFound
from server.graphql.keys.types import ApiKey
from server.graphql.workspaces.types import Workspace
from server.models import Workspace as WorkspaceModel
from server.policy import Role, SessionPrincipal, require_role
from server.services import keys


@strawberry.type
class WorkspaceQuery:
    @strawberry.field(description="A workspace you belong to, with its endpoints, partners, keys, members and audit log.")
    async def workspace(self, info: Info, id: strawberry.ID) -> Workspace:
        principal = info.context.principal
        require_role(principal, id, Role.VIEWER)
        workspace = await WorkspaceModel.get_or_none(id=id)
        if workspace is None or not isinstance(principal, SessionPrincipal):
            raise NotFound("Not found.")
        return Workspace.from_model(workspace, principal.roles[id])

    @strawberry.field(description="One key of a workspace you belong to.")
    async def key(self, info: Info, id: strawberry.ID) -> ApiKey:
        return ApiKey.from_model(await keys.get_key(info.context.principal, id))
