"""Enums shared by several GraphQL domains, exposed from the domain's own enums."""

from __future__ import annotations

from enum import Enum

import strawberry

from server import fields, keys, policy

Environment = strawberry.enum(keys.Environment, name="Environment", description="Test (sandbox) or live (production) data; they never mix.")
Permission = strawberry.enum(policy.Permission, name="Permission", description="An operation a key may perform on its endpoint's records.")
RowScope = strawberry.enum(policy.RowScope, name="RowScope", description="ALL records of the endpoint, or only the partner's OWN.")
FieldType = strawberry.enum(fields.FieldType, name="FieldType", description="The type a record field must have.")


@strawberry.enum(description="What kind of caller this is.")
class PrincipalKind(Enum):
    KEY = "key"
