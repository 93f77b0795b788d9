"""Enums shared by several GraphQL domains, exposed from the domain's own enums."""

from __future__ import annotations

from enum import Enum

import strawberry

from server import fields, keys, policy
from server.services import keys as key_service

Environment = strawberry.enum(keys.Environment, name="Environment", description="Test (sandbox) or live (production) data; they never mix.")
Permission = strawberry.enum(policy.Permission, name="Permission", description="An operation a key may perform on its endpoint's records.")
RowScope = strawberry.enum(policy.RowScope, name="RowScope", description="ALL records of the endpoint, or only the partner's OWN.")
FieldType = strawberry.enum(fields.FieldType, name="FieldType", description="The type a record field must have.")
Role = strawberry.enum(policy.Role, name="Role", description="VIEWER reads; ADMIN also manages partners and keys; OWNER also endpoints and members.")
KeyStatus = strawberry.enum(key_service.KeyStatus, name="KeyStatus")
Handover = strawberry.enum(
    key_service.Handover, name="Handover", description="REVEAL: the secret is returned once. CLAIM: a one-time link mints it for the partner."
)
RollGrace = strawberry.enum(key_service.RollGrace, name="RollGrace", description="How long the old secret keeps working after a roll.")


@strawberry.enum(description="What kind of caller this is.")
class PrincipalKind(Enum):
    KEY = "key"
    USER = "user"
