"""Workspaces and what they hold: endpoints, partners, members; listed for any member."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from server import fields, models
from server.graphql.enums import Environment, FieldType, KeyStatus, Role
from server.policy import Role as PolicyRole
from server.services import audit, keys, workspaces
from server.services.records import decode_cursor, encode_cursor

if TYPE_CHECKING:
    from server.graphql.audit.types import AuditEventConnection
    from server.graphql.keys.types import ApiKey
    from server.graphql.safety.types import Checklist, SafetySettings


@strawberry.type(description="One field records of an endpoint may carry.")
class FieldDefinition:
    name: str
    type: FieldType
    required: bool
    min_length: int | None
    max_length: int | None
    min: float | None
    max: float | None

    @classmethod
    def from_definition(cls, definition: fields.FieldDefinition) -> FieldDefinition:
        return cls(
            name=definition.name,
            type=definition.type,
            required=definition.required,
            min_length=definition.min_length,
            max_length=definition.max_length,
            min=definition.min,
            max=definition.max,
        )


@strawberry.input(description="A field of an endpoint: name, type, whether required, and limits.")
class FieldInput:
    name: str
    type: FieldType
    required: bool = False
    min_length: int | None = None
    max_length: int | None = None
    min: float | None = None
    max: float | None = None

    def as_json(self) -> dict[str, object]:
        """The stored form; the endpoint service checks it (parse_definitions)."""
        definition = fields.FieldDefinition(
            self.name, fields.FieldType(self.type.value), self.required, self.min_length, self.max_length, self.min, self.max
        )
        return definition.as_json()


@strawberry.type(description="A data collection point with its field list.")
class Endpoint:
    id: strawberry.ID
    name: str
    fields: list[FieldDefinition]
    archived_at: datetime | None
    created_at: datetime

    @classmethod
    def from_model(cls, endpoint: models.Endpoint) -> Endpoint:
        return cls(
            id=strawberry.ID(endpoint.id),
            name=endpoint.name,
            fields=[FieldDefinition.from_definition(d) for d in fields.parse_definitions(endpoint.fields)],
            archived_at=endpoint.archived_at,
            created_at=endpoint.created_at,
        )


@strawberry.type(description="A collaborator that keys are issued to.")
class Partner:
    id: strawberry.ID
    name: str
    archived_at: datetime | None
    created_at: datetime

    @classmethod
    def from_model(cls, partner: models.Partner) -> Partner:
        return cls(id=strawberry.ID(partner.id), name=partner.name, archived_at=partner.archived_at, created_at=partner.created_at)


@strawberry.type(description="A person who can sign in.")
class User:
    id: strawberry.ID
    email: str
    name: str

    @classmethod
    def from_model(cls, user: models.User) -> User:
        return cls(id=strawberry.ID(user.id), email=user.email, name=user.name)


@strawberry.type(description="A person's place in a workspace.")
class Member:
    user: User
    role: Role
    joined_at: datetime


@strawberry.type(description="A business using threemin. Everything in it is visible to its members.")
class Workspace:
    id: strawberry.ID
    name: str
    role: Role = strawberry.field(description="Your role here.")

    @classmethod
    def from_model(cls, workspace: models.Workspace, role: PolicyRole) -> Workspace:
        return cls(id=strawberry.ID(workspace.id), name=workspace.name, role=role)

    @strawberry.field
    async def endpoints(self, info: Info, include_archived: bool = False) -> list[Endpoint]:
        found = await workspaces.list_endpoints(info.context.principal, self.id, include_archived=include_archived)
        return [Endpoint.from_model(e) for e in found]

    @strawberry.field
    async def partners(self, info: Info, include_archived: bool = False) -> list[Partner]:
        found = await workspaces.list_partners(info.context.principal, self.id, include_archived=include_archived)
        return [Partner.from_model(p) for p in found]

    @strawberry.field(description="Keys, newest first, optionally filtered.")
    async def keys(
        self,
        info: Info,
        partner: strawberry.ID | None = None,
        endpoint: strawberry.ID | None = None,
        environment: Environment | None = None,
        status: KeyStatus | None = None,
    ) -> list[Annotated[ApiKey, strawberry.lazy("server.graphql.keys.types")]]:
        from server.graphql.keys.types import ApiKey

        found = await keys.list_keys(
            info.context.principal, self.id, partner_id=partner, endpoint_id=endpoint, environment=environment, key_status=status
        )
        return [ApiKey.from_model(k) for k in found]

    @strawberry.field
    async def members(self, info: Info) -> list[Member]:
        from server.policy import require_role

        require_role(info.context.principal, self.id, PolicyRole.VIEWER)
        found = await models.Membership.filter(workspace_id=self.id).select_related("user").order_by("created_at")
        return [Member(user=User.from_model(m.user), role=PolicyRole(m.role), joined_at=m.created_at) for m in found]

    @strawberry.field(description="The audit log, newest first, with filters.")
    async def audit_events(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        key: strawberry.ID | None = None,
        partner: strawberry.ID | None = None,
        actor: str | None = None,
        action: str | None = None,
    ) -> Annotated[AuditEventConnection, strawberry.lazy("server.graphql.audit.types")]:
        from server.errors import ValidationFailed
        from server.graphql.audit.types import AuditEventConnection

        if not 0 <= first <= info.context.settings.max_page_size:
            raise ValidationFailed(fields={"first": f"must be between 0 and {info.context.settings.max_page_size}"})
        where = audit.AuditFilter(key=key, partner=partner, actor=actor, action=action)
        events, more = await audit.list_events(info.context.principal, self.id, first, decode_cursor(after) if after else None, where)
        return AuditEventConnection.from_events(events, more, encode_cursor)

    @strawberry.field(description="The safety checklist, computed now: each question with the keys concerned, evidence and fixes.")
    async def checklist(self, info: Info) -> Annotated[Checklist, strawberry.lazy("server.graphql.safety.types")]:
        from server.graphql.safety.types import Checklist
        from server.services import checklist

        return Checklist.from_checklist(await checklist.build(info.context.principal, self.id))

    @strawberry.field(description="The checklist thresholds and the idle-key policy (setSafetySettings changes them).")
    async def safety_settings(self, info: Info) -> Annotated[SafetySettings, strawberry.lazy("server.graphql.safety.types")]:
        from server.graphql.safety.types import SafetySettings
        from server.policy import require_role

        require_role(info.context.principal, self.id, PolicyRole.VIEWER)
        return SafetySettings.from_model(await models.Workspace.get(id=self.id))
