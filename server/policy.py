"""Who may do what: operations, environments, fields and tenancy for a principal.

Every path (the partner API, GraphiQL, later the dashboard) asks these
functions, so the rules are judged once. They raise the error vocabulary of
errors.py and never touch the database: callers load rows, the policy decides.

Order matters for secrecy: an object outside the principal's reach answers
NOT_FOUND whether or not it exists, and a missing operation answers FORBIDDEN
before anything is looked up, so no answer depends on another tenant's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from server.errors import FieldNotAllowed, Forbidden, NotFound
from server.fields import FieldDefinition
from server.keys import Environment


class Permission(str, Enum):
    CREATE = "create"
    READ = "read"
    UPDATE = "update"
    DELETE = "delete"


class RowScope(str, Enum):
    ALL = "all"  # every record of the endpoint in the key's environment
    OWN = "own"  # only the records this key's partner sent


@dataclass(frozen=True, slots=True)
class KeyPrincipal:
    """A partner program calling with a collaboration key."""

    key_id: str
    workspace_id: str
    partner_id: str
    partner_name: str
    endpoint_id: str
    endpoint_name: str
    endpoint_fields: tuple[FieldDefinition, ...]
    environment: Environment
    permissions: frozenset[Permission]
    readable_fields: frozenset[str] | None  # None: every field
    writable_fields: frozenset[str] | None
    row_scope: RowScope
    rate_limit: int | None = None  # requests per minute; None: the default

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


class Role(str, Enum):
    VIEWER = "viewer"  # reads everything in the workspace, changes nothing
    ADMIN = "admin"  # also manages partners and keys
    OWNER = "owner"  # also manages endpoints and members

    @property
    def rank(self) -> int:
        return list(Role).index(self)


@dataclass(frozen=True, slots=True)
class SessionPrincipal:
    """A person signed in to the dashboard (or GraphiQL) with a session cookie."""

    user_id: str
    email: str
    session_id: int
    roles: dict[str, Role]  # workspace id -> role

    def can(self, permission: Permission) -> bool:
        return False  # record operations are for keys; people use the management fields


@dataclass(frozen=True, slots=True)
class OperatorPrincipal:
    """Whoever runs the `threemin` command on the server: trusted with everything."""

    def can(self, permission: Permission) -> bool:
        return False


OPERATOR = OperatorPrincipal()

Principal = KeyPrincipal | SessionPrincipal | OperatorPrincipal


def require(principal: Principal, permission: Permission) -> None:
    if not isinstance(principal, KeyPrincipal):
        raise Forbidden("Record operations need a collaboration key.")
    if not principal.can(permission):
        raise Forbidden(f"This key does not have the {permission.value.upper()} permission.")


def require_person(principal: Principal) -> None:
    """Management is for people (and the operator). Call it before looking anything up,
    so a key is refused the same way whether the object it names exists or not."""
    if isinstance(principal, KeyPrincipal):
        raise Forbidden("Only people signed in to threemin may do this, not collaboration keys.")


def require_role(principal: Principal, workspace_id: str | None, role: Role, *, missing: str = "Not found.") -> None:
    """A person with at least `role` in the workspace (or the operator); keys may never manage.

    Not a member: NOT_FOUND with `missing`, the very message the caller gives
    for an object that does not exist, so the answer never tells them apart.
    """
    if isinstance(principal, OperatorPrincipal):
        return
    require_person(principal)
    assert isinstance(principal, SessionPrincipal)
    held = principal.roles.get(workspace_id or "")
    if held is None:
        raise NotFound(missing)
    if held.rank < role.rank:
        raise Forbidden(f"This needs the {role.value} role; you are {held.value}.")


def require_endpoint(principal: Principal, endpoint_id: str) -> None:
    """A key reaches one endpoint; any other id is 'not found', existing or not."""
    if not isinstance(principal, KeyPrincipal):
        raise Forbidden("Record operations need a collaboration key.")
    if endpoint_id != principal.endpoint_id:
        raise NotFound("No such endpoint.")


def record_filter(principal: KeyPrincipal) -> dict[str, Any]:
    """The rows a principal may see: its endpoint, its environment, maybe its partner."""
    scope: dict[str, Any] = {"endpoint_id": principal.endpoint_id, "environment": principal.environment.value}
    if principal.row_scope is RowScope.OWN:
        scope["partner_id"] = principal.partner_id
    return scope


def check_writable(principal: KeyPrincipal, data: Any) -> None:
    if principal.writable_fields is None or not isinstance(data, dict):
        return
    refused = sorted(name for name in data if name not in principal.writable_fields)
    if refused:
        raise FieldNotAllowed(
            f"This key may not write: {', '.join(refused)}.",
            fields={name: "this key may not write this field" for name in refused},
        )


def readable_view(principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(principal, KeyPrincipal) or principal.readable_fields is None:
        return data
    return {name: value for name, value in data.items() if name in principal.readable_fields}
