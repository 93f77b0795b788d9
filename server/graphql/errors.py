"""How errors leave the API: our vocabulary passes, anything unexpected is masked.

A resolver's ThreeminError keeps its message and code. GraphQL's own errors
(syntax, validation, variables, permission classes) are public by nature. Any
other exception is replaced by "Unexpected error." and logged with the
request id, so its text (SQL, paths, values) never reaches a caller.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from graphql import GraphQLError

from tortoise.exceptions import ValidationError as TortoiseValidationError

from server.errors import ThreeminError

log = logging.getLogger("threemin.graphql")


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    original = error.original_error
    out: dict[str, Any] = {"message": error.message}
    if isinstance(original, ThreeminError):
        out["message"] = original.message
        extensions = original.as_extensions()
    elif isinstance(original, TortoiseValidationError):
        # A value no column can hold (an "id" of 40 characters, say): no such
        # object can exist, so it is bad input, not a bug. Logged in case it is ours.
        log.warning("value refused by the database layer in request %s: %s", request_id, type(original).__name__)
        out["message"] = "A value is longer than anything threemin stores in that place."
        extensions = {"code": "VALIDATION_FAILED"}
    elif original is None or isinstance(original, GraphQLError):
        extensions = dict(error.extensions or {})
        if "code" not in extensions and not error.path:
            extensions.update(_request_error_code(error.message))
    else:
        log.error("unexpected error in request %s", request_id, exc_info=original)
        out["message"] = "Unexpected error."
        extensions = {"code": "INTERNAL_ERROR", "requestId": request_id}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        out["path"] = error.path
    if extensions:
        out["extensions"] = extensions
    return out


_VARIABLE = re.compile(r"^Variable '\$(\w+)'")
_AT = re.compile(r" at '?\.?([\w.\[\]]+)'?")


def _request_error_code(message: str) -> dict[str, Any]:
    """A code for errors GraphQL raises before execution, so clients can tell them apart.

    A variable that does not fit its type (a permission or grace period not
    offered, a string for an Int) is bad input like any other: VALIDATION_FAILED,
    naming the field inside the variable (`permissions` for `$input.permissions[1]`).
    """
    if message.startswith("Syntax Error"):
        return {"code": "GRAPHQL_PARSE_FAILED"}
    variable = _VARIABLE.match(message)
    if variable:
        at = _AT.search(message)
        path = re.sub(r"\[\d+\]", "", at.group(1)).strip(".") if at else ""
        field = path.rsplit(".", 1)[-1] if path and path != variable.group(1) else variable.group(1)
        return {"code": "VALIDATION_FAILED", "fields": {field: message.split(": ", 1)[-1].split("; ", 1)[-1]}}
    return {"code": "GRAPHQL_VALIDATION_FAILED"}


def status_for(errors: Sequence[GraphQLError]) -> int:
    """The HTTP status DESIGN.md's table gives an error (413, 429, 409…), else 200."""
    statuses = [e.original_error.status for e in errors if isinstance(e.original_error, ThreeminError)]
    return max((s for s in statuses if s != 200), default=200)


def request_error(error: ThreeminError) -> dict[str, Any]:
    """An error raised before execution (authentication, body size, bad JSON)."""
    return {"message": error.message, "extensions": error.as_extensions()}
