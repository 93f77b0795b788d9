"""Who is calling: the key, its partner, its endpoint and what it may do."""

from __future__ import annotations

import strawberry

from server import fields
from server.graphql.enums import (
    Environment,
    FieldType,
    Permission,
    PrincipalKind,
    RowScope,
)
from server.policy import KeyPrincipal


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


@strawberry.type(description="A data collection point with its field list.")
class Endpoint:
    id: strawberry.ID
    name: str
    fields: list[FieldDefinition]


@strawberry.type(description="A collaborator that keys are issued to.")
class Partner:
    id: strawberry.ID
    name: str


@strawberry.type(description="The calling key and what it may do. Never includes the secret.")
class ViewerKey:
    id: strawberry.ID
    environment: Environment
    permissions: list[Permission]
    readable_fields: list[str] | None = strawberry.field(description="null: every field.")
    writable_fields: list[str] | None = strawberry.field(description="null: every field.")
    row_scope: RowScope
    partner: Partner
    endpoint: Endpoint


@strawberry.type
class Viewer:
    kind: PrincipalKind
    key: ViewerKey | None

    @classmethod
    def from_principal(cls, principal: KeyPrincipal) -> Viewer:
        def listed(names: frozenset[str] | None) -> list[str] | None:
            return None if names is None else sorted(names)

        key = ViewerKey(
            id=strawberry.ID(principal.key_id),
            environment=principal.environment,
            permissions=sorted(principal.permissions, key=list(Permission).index),
            readable_fields=listed(principal.readable_fields),
            writable_fields=listed(principal.writable_fields),
            row_scope=principal.row_scope,
            partner=Partner(id=strawberry.ID(principal.partner_id), name=principal.partner_name),
            endpoint=Endpoint(
                id=strawberry.ID(principal.endpoint_id),
                name=principal.endpoint_name,
                fields=[FieldDefinition.from_definition(d) for d in principal.endpoint_fields],
            ),
        )
        return cls(kind=PrincipalKind.KEY, key=key)
