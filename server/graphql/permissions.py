"""Field-level permission classes: each has a readable message and an error code."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from server.policy import Permission, SessionPrincipal


class CanReadData(BasePermission):
    """Record.data needs READ for a key: a write-only key may read back ids, never data.

    People reach a record only through a workspace they belong to (checked
    when it was loaded), and every role may read.
    """

    message = "This key does not have the READ permission, so it cannot see record data."
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        return isinstance(principal, SessionPrincipal) or principal.can(Permission.READ)
