"""Who is calling: a key (its partner, endpoint and rights) or a person (their workspaces)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from server.graphql.enums import Environment, Permission, PrincipalKind, RowScope
from server.graphql.workspaces.types import Endpoint, Partner, User, Workspace
from server.models import User as UserModel
from server.models import Workspace as WorkspaceModel
from server.policy import KeyPrincipal, SessionPrincipal


@strawberry.type(description="The calling key and what it may do. Never includes the secret.")
class ViewerKey:
    id: strawberry.ID
    environment: Environment
    permissions: list[Permission]
    readable_fields: list[str] | None = strawberry.field(description="null: every field.")
    writable_fields: list[str] | None = strawberry.field(description="null: every field.")
    row_scope: RowScope
    principal: strawberry.Private[KeyPrincipal]

    @strawberry.field
    async def partner(self, info: Info) -> Partner:
        return Partner.from_model(await info.context.loaders.partner.load(self.principal.partner_id))

    @strawberry.field
    async def endpoint(self, info: Info) -> Endpoint:
        return Endpoint.from_model(await info.context.loaders.endpoint.load(self.principal.endpoint_id))


def _listed(names: frozenset[str] | None) -> list[str] | None:
    return None if names is None else sorted(names)


@strawberry.type
class Viewer:
    kind: PrincipalKind
    key: ViewerKey | None = strawberry.field(description="For a collaboration key.")
    principal: strawberry.Private[KeyPrincipal | SessionPrincipal]

    @classmethod
    def from_principal(cls, principal: KeyPrincipal | SessionPrincipal) -> Viewer:
        if isinstance(principal, SessionPrincipal):
            return cls(kind=PrincipalKind.USER, key=None, principal=principal)
        key = ViewerKey(
            id=strawberry.ID(principal.key_id),
            environment=principal.environment,
            permissions=sorted(principal.permissions, key=list(Permission).index),
            readable_fields=_listed(principal.readable_fields),
            writable_fields=_listed(principal.writable_fields),
            row_scope=principal.row_scope,
            principal=principal,
        )
        return cls(kind=PrincipalKind.KEY, key=key, principal=principal)

    @strawberry.field(description="For a person: who they are.")
    async def user(self) -> User | None:
        if not isinstance(self.principal, SessionPrincipal):
            return None
        return User.from_model(await UserModel.get(id=self.principal.user_id))

    @strawberry.field(description="For a person: the workspaces they belong to, with their role in each.")
    async def workspaces(self) -> list[Workspace]:
        if not isinstance(self.principal, SessionPrincipal):
            return []
        roles = self.principal.roles
        found = await WorkspaceModel.filter(id__in=list(roles)).order_by("name")
        return [Workspace.from_model(w, roles[w.id]) for w in found]
