"""Field-level permission classes: each has a readable message and an error code."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission
from strawberry.types import Info

from server.policy import Permission


class CanReadData(BasePermission):
    """Record.data needs READ: a write-only key may read back ids, never data."""

    message = "This key does not have the READ permission, so it cannot see record data."
    error_extensions = {"code": "FORBIDDEN"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.principal.can(Permission.READ)
