"""What is known about the request being served: its id, and what handlers noted for metrics.

A contextvar holds one mutable RequestInfo per request. The middleware sets it;
code anywhere below (the GraphQL transport, authentication, a log filter) reads
or notes into it without a request object being passed around. Outside a
request, request_info() answers a throwaway one, so callers need no checks.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

# Sane ids from a proxy or a client (a UUID, a trace id); anything else is
# replaced, so a header cannot inject text into log lines.
ACCEPTED_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# An id that looks like a key is replaced too: it would be written in every log line.
KEY_LIKE = re.compile(r"tm_(test|live)_", re.IGNORECASE)


@dataclass(slots=True)
class RequestInfo:
    id: str
    # (query, operationName) once /graphql has parsed the request parameters.
    graphql_document: tuple[str, str | None] | None = None
    # The body /graphql answered with (its "errors" carry the codes).
    graphql_body: dict[str, Any] | None = None
    # ok, malformed, unknown, deactivated, expired, error: see metrics.key_outcome.
    key_outcome: str | None = None


_current: ContextVar[RequestInfo | None] = ContextVar("threemin_request", default=None)


def request_info() -> RequestInfo:
    return _current.get() or RequestInfo(id="")


def current_request_id() -> str | None:
    info = _current.get()
    return info.id if info else None


def request_id_from(header: bytes | None) -> str:
    """The caller's X-Request-Id when it is sane, else a new one."""
    if header:
        given = header.decode("latin-1")
        if ACCEPTED_ID.fullmatch(given) and not KEY_LIKE.search(given):
            return given
    return secrets.token_hex(8)


def begin(info: RequestInfo | None) -> Any:
    return _current.set(info)


def end(token: Any) -> None:
    _current.reset(token)
