"""Safe retries: a key's mutation sent with an Idempotency-Key runs once, and its answer replays for 24 h.

Exactly once has to survive a crash between "record written" and "answer
stored", so both happen in ONE transaction: the remembered row is inserted
first, the request executes inside the same transaction, the answer is
stored on the row, then everything commits together. A crash or an
unexpected error rolls back both, and a retry simply runs again.

A duplicate sent while the first attempt is still running waits for it: on
SQLite every query of the process waits for the open transaction (one
connection behind a lock), on PostgreSQL the INSERT waits on the unique
index. It then finds the committed answer and replays it; if the first
attempt rolled back, it runs itself.

What is never remembered: queries (safe to repeat, the header is ignored),
and answers from a bug or an outage (status 5xx, or an INTERNAL_ERROR in the
body). This module never sees the HTTP request: the transport hands it the
header values and the GraphQL parameters, and an `execute` callback.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import orjson
from graphql import DocumentNode, OperationType, get_operation_ast, print_ast
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server.errors import BadRequest, IdempotencyConflict, NothingSaved
from server.models import IdempotentRequest
from server.policy import KeyPrincipal, Principal

HEADER = "idempotency-key"
REPLAYED_HEADER = "idempotent-replayed"
REMEMBERED = timedelta(hours=24)
MAX_LENGTH = 255


class Sent(Protocol):
    """What the transport answered; a starlette Response fits."""

    status_code: int
    body: bytes


S = TypeVar("S", bound=Sent)


@dataclass(frozen=True, slots=True)
class Stored:
    """An answer remembered from an earlier attempt, to send again byte for byte."""

    status_code: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Attempt:
    key_id: str
    idempotency_key: str
    request_hash: str


def attempt_for(
    principal: Principal, header_values: list[str], document: DocumentNode | None, variables: dict[str, Any] | None, operation_name: str | None
) -> Attempt | None:
    """The attempt a request asks for, or None when the header does not apply.

    `document` is the request's parsed query (None if it does not parse), from
    the executor's cache (graphql/execution.py): it is not parsed again here.

    Refuses (BAD_REQUEST) a malformed header, and a mutation by a session:
    silently ignoring the header on a write would let a person believe a
    retry is safe when it is not.
    """
    if not header_values:
        return None
    operation = get_operation_ast(document, operation_name) if document is not None else None
    if operation is None or operation.operation is not OperationType.MUTATION:
        return None  # a query is safe to repeat; a document that does not parse fails before any write
    if not isinstance(principal, KeyPrincipal):
        raise BadRequest("Idempotency-Key works only with an API key (Authorization: Bearer tm_…), not with a signed-in session.")
    return Attempt(principal.key_id, _checked(header_values), request_hash(print_ast(document), variables, operation_name))


def _checked(header_values: list[str]) -> str:
    if len(header_values) > 1:
        raise BadRequest("Send one Idempotency-Key header, not several.")
    value = header_values[0]
    if not 1 <= len(value) <= MAX_LENGTH or not all("!" <= char <= "~" for char in value):
        raise BadRequest(f"An Idempotency-Key must be 1 to {MAX_LENGTH} visible ASCII characters (no spaces); a UUID is a good choice.")
    return value


def request_hash(document: str, variables: dict[str, Any] | None, operation_name: str | None) -> str:
    """SHA-256 of the request in a canonical form: layout and key order do not count, any value does.

    `document` is the printed AST, so spaces and comments in the query do not
    count either; absent and empty variables are the same request.
    """
    canonical = orjson.dumps({"query": document, "variables": variables or {}, "operationName": operation_name}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


class _Forget(Exception):
    """Raised inside the transaction to roll it back, carrying the answer that must not be remembered."""

    def __init__(self, sent: Sent) -> None:
        self.sent = sent


async def once(attempt: Attempt, execute: Callable[[], Awaitable[S]]) -> S | Stored:
    """Run `execute` unless this attempt already has an answer; return the fresh or the stored answer.

    Raises IdempotencyConflict if the key was used with a different request,
    NothingSaved if the request hit an unexpected error (rolled back, retry
    allowed).
    """
    stored = await _remembered(attempt)
    if stored is not None:
        return stored
    try:
        async with in_transaction():
            # Only an expired row can be in the way here; it counts as absent.
            await IdempotentRequest.filter(
                key_id=attempt.key_id, idempotency_key=attempt.idempotency_key, created_at__lt=datetime.now(UTC) - REMEMBERED
            ).delete()
            row = await IdempotentRequest.create(
                key_id=attempt.key_id, idempotency_key=attempt.idempotency_key, request_hash=attempt.request_hash
            )
            sent = await execute()
            if _unexpected(sent):
                raise _Forget(sent)
            row.status, row.response = sent.status_code, sent.body.decode()
            await row.save(update_fields=["status", "response"])
    except IntegrityError:
        # A concurrent attempt with this key committed first (PostgreSQL: the
        # INSERT waited on the unique index until it did): answer as it did.
        stored = await _remembered(attempt)
        if stored is None:  # pragma: no cover - the row that blocked us was committed, so it is there
            raise
        return stored
    except _Forget as forgotten:
        if forgotten.sent.status_code >= 500:
            return forgotten.sent  # already says the request failed
        raise NothingSaved(requestId=_request_id(forgotten.sent.body)) from None
    return sent


async def _remembered(attempt: Attempt) -> Stored | None:
    found = (
        await IdempotentRequest.filter(
            key_id=attempt.key_id, idempotency_key=attempt.idempotency_key, created_at__gte=datetime.now(UTC) - REMEMBERED
        )
        .only("request_hash", "status", "response")
        .first()
    )
    if found is None or found.status is None or found.response is None:
        return None
    if found.request_hash != attempt.request_hash:
        raise IdempotencyConflict()
    return Stored(found.status, found.response.encode())


def _unexpected(sent: Sent) -> bool:
    """A 5xx, or a bug masked as INTERNAL_ERROR in a 200: not the request's own outcome, so never replayed."""
    if sent.status_code >= 500:
        return True
    return b'"INTERNAL_ERROR"' in sent.body and any(code == "INTERNAL_ERROR" for code in _codes(sent.body))


def _codes(body: bytes) -> list[Any]:
    errors = orjson.loads(body).get("errors") or []
    return [error.get("extensions", {}).get("code") for error in errors]


def _request_id(body: bytes) -> str | None:
    for error in orjson.loads(body).get("errors") or []:
        if error.get("extensions", {}).get("requestId"):
            return error["extensions"]["requestId"]
    return None


FORGET_EVERY_SECONDS = 600.0


async def forget_expired(now: datetime) -> int:
    """Delete answers older than 24 h (they already count as absent); returns how many.

    Cheap (an index on created_at): meant to run every few minutes from the
    server's lifespan loop.
    """
    return await IdempotentRequest.filter(created_at__lt=now - REMEMBERED).delete()
