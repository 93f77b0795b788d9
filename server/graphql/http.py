"""GraphQL over HTTP for /graphql: limits, authentication, execution, status codes.

A small transport of our own rather than strawberry's view, so that the order
of checks is ours (cheapest first: key in URL, declared size, key, body, then
GraphQL) and so that statuses follow DESIGN.md's table and the GraphQL over
HTTP specification for both `application/json` and
`application/graphql-response+json`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import strawberry
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from server.auth import authenticate
from server.errors import BadRequest, PayloadTooLarge, RateLimited, RequestTimeout, ThreeminError
from server.graphql.context import Context
from server.graphql.errors import format_error, log, request_error, status_for
from server.graphql.schema import Schema
from server.observability.request_info import request_info
from server.policy import KeyPrincipal, Principal
from server.ratelimit import Budget, Limiter, retry_after
from server.services import idempotency
from server.services.usage import KeyUsage, identified
from server.settings import Settings

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"


class GraphQLEndpoint:
    def __init__(self, schema: Schema, settings: Settings, key_usage: KeyUsage, limiter: Limiter, graphiql: Any) -> None:
        self.schema = schema
        self.settings = settings
        self.key_usage = key_usage
        self.limiter = limiter
        self.graphiql = graphiql  # (request) -> Response, for browsers asking for the page

    async def handle(self, request: Request) -> Response:
        if request.method == "GET" and "query" not in request.query_params and _wants_html(request):
            return self.graphiql(request)
        request_id = request_info().id  # the middleware's: also in log lines and the x-request-id header
        media_type = GRAPHQL_RESPONSE if GRAPHQL_RESPONSE in request.headers.get("accept", "") else JSON
        try:
            return await self._in_time(request, request_id, media_type)
        except ThreeminError as error:
            self.key_usage.note_refusal(error, datetime.now(UTC))  # counted only when the key was identified
            return _respond({"errors": [request_error(error)]}, error.status, media_type, request_id)
        except Exception:
            # Outside execution (the database down during the key check, say):
            # the same masked answer as a resolver's bug, in GraphQL's shape.
            log.exception("unexpected error in request %s", request_id)
            unexpected = {"message": "Unexpected error.", "extensions": {"code": "INTERNAL_ERROR", "requestId": request_id}}
            return _respond({"errors": [unexpected]}, 500, media_type, request_id)

    async def _in_time(self, request: Request, request_id: str, media_type: str) -> Response:
        """The whole request, reading the body included, within THREEMIN_REQUEST_TIMEOUT_SECONDS.

        Past it the request's task is cancelled wherever it waits: a transaction
        in progress rolls back, and new records still waiting for a shared commit
        are never written. A new record whose shared commit is already running
        is the exception: that commit finishes and the request is answered with
        it (services/group_commit.py), so a TIMEOUT always means nothing was kept.
        """
        deadline = asyncio.timeout(self.settings.request_timeout_seconds or None)
        try:
            async with deadline:
                return await self._handle(request, request_id, media_type)
        except TimeoutError:
            if not deadline.expired():
                raise  # some other time limit, not ours: an unexpected error
            raise RequestTimeout(f"The request took longer than {self.settings.request_timeout_seconds:g} s.") from None

    async def _handle(self, request: Request, request_id: str, media_type: str) -> Response:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.settings.max_body_bytes:
            raise PayloadTooLarge(f"The body may be at most {self.settings.max_body_bytes} bytes.")
        principal = await authenticate(request, self.settings)
        if isinstance(principal, KeyPrincipal):
            await self._within_limits(principal)
        if request.method == "GET":
            params: dict[str, Any] = dict(request.query_params)
            if params.get("variables"):
                params["variables"] = _json(params["variables"].encode(), "variables")
            allowed = (OperationType.QUERY,)
        else:
            if not request.headers.get("content-type", "").lower().startswith(JSON):
                return _respond({"errors": [{"message": "Send the request as application/json.", "extensions": {"code": "BAD_REQUEST"}}]}, 415, media_type, request_id)
            params = _json(await self._body(request), "body")
            allowed = (OperationType.QUERY, OperationType.MUTATION)
        query, variables, operation_name = _parse_params(params)
        request_info().graphql_document = (query, operation_name)  # for metrics: which root fields ran
        if isinstance(principal, KeyPrincipal):
            self.key_usage.note(principal.key_id, datetime.now(UTC), request.client.host if request.client else None, request.headers.get("user-agent"))
        execute = functools.partial(self._execute, request, principal, query, variables, operation_name, allowed, request_id, media_type)
        headers = request.headers.getlist(idempotency.HEADER) if request.method == "POST" else []
        if headers:
            document = self.schema.executor.prepare(query).document
            attempt = idempotency.attempt_for(principal, headers, document, variables, operation_name)
            if attempt is not None:
                return await _once(attempt, execute, media_type, request_id)
        return await execute()

    async def _execute(
        self, request: Request, principal: Principal, query: str, variables: dict[str, Any] | None, operation_name: str | None,
        allowed: tuple[OperationType, ...], request_id: str, media_type: str,
    ) -> Response:
        context = Context.for_request(request, principal, self.settings, self.key_usage, request_id)
        try:
            result = await self.schema.execute(
                query,
                variable_values=variables,
                context_value=context,
                operation_name=operation_name,
                allowed_operation_types=allowed,
            )
        except CannotGetOperationTypeError:
            # operationName names no operation of the document (or it has none): the request's fault.
            message = f"The document has no operation named '{operation_name}'." if operation_name else "The document has no operation."
            return _respond({"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}, 400, media_type, request_id)
        except InvalidOperationTypeError:
            response = _respond({"errors": [{"message": "Only queries may be sent with GET; use POST.", "extensions": {"code": "BAD_REQUEST"}}]}, 405, media_type, request_id)
            response.headers["allow"] = "POST"
            return response
        body: dict[str, Any] = {}
        errors: list[GraphQLError] = list(result.errors or [])
        status = status_for(errors)
        if result.data is None and errors and all(e.path is None for e in errors):
            # Failed before execution (parse, validation, variables): no data entry.
            if media_type == GRAPHQL_RESPONSE:
                status = 400
        else:
            body["data"] = result.data
        if errors:
            body["errors"] = [format_error(e, request_id) for e in errors]
        return _respond(body, status, media_type, request_id)

    async def _within_limits(self, principal: KeyPrincipal) -> None:
        """The key's own budget, then its partner's across all its keys; before any GraphQL work."""
        key = Budget(f"key:{principal.key_id}", principal.rate_limit or self.settings.key_rate_limit)
        partner = Budget(f"partner:{principal.partner_id}", self.settings.partner_rate_limit)
        refused = await self.limiter.spend((key, partner))
        if refused is not None:
            budget, wait = refused
            whose = "this key" if budget is key else "this partner's keys together"
            seconds = retry_after(wait)
            raise identified(RateLimited(f"Too many requests for {whose} ({budget.limit} a minute). Retry in {seconds} s.", retryAfter=seconds), principal.key_id)

    async def _body(self, request: Request) -> bytes:
        limit = self.settings.max_body_bytes
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"The body may be at most {limit} bytes.")
            chunks.append(chunk)
        return b"".join(chunks)


async def _once(attempt: idempotency.Attempt, execute: Callable[[], Awaitable[Response]], media_type: str, request_id: str) -> Response:
    """Under an Idempotency-Key (services/idempotency.py): run once, or send the stored answer again as it was."""
    answer = await idempotency.once(attempt, execute)
    if isinstance(answer, Response):
        return answer
    request_info().graphql_body = orjson.loads(answer.body)  # for metrics, as _respond does
    headers = {"x-request-id": request_id, "cache-control": "no-store", idempotency.REPLAYED_HEADER: "true"}
    return Response(answer.body, status_code=answer.status_code, media_type=media_type, headers=headers)


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "text/html" in accept


def _json(raw: bytes, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise BadRequest(f"The {what} is not valid JSON.") from None


def _parse_params(params: Any) -> tuple[str, dict[str, Any] | None, str | None]:
    if not isinstance(params, dict):
        raise BadRequest("The body must be a JSON object with a 'query'.")
    query, variables, operation_name = params.get("query"), params.get("variables"), params.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise BadRequest("The request has no 'query' string.")
    if variables is not None and not isinstance(variables, dict):
        raise BadRequest("'variables' must be a JSON object.")
    if operation_name is not None and not isinstance(operation_name, str):
        raise BadRequest("'operationName' must be a string.")
    if params.get("extensions") is not None and not isinstance(params["extensions"], dict):
        raise BadRequest("'extensions' must be a JSON object.")
    return query, variables, operation_name


def _respond(body: dict[str, Any], status: int, media_type: str, request_id: str) -> Response:
    request_info().graphql_body = body  # for metrics: the codes of its errors
    headers = {"x-request-id": request_id, "cache-control": "no-store"}
    if status == 401:
        headers["www-authenticate"] = 'Bearer realm="threemin"'
    if status == 429:
        waits = [e.get("extensions", {}).get("retryAfter") for e in body.get("errors", [])]
        headers["retry-after"] = str(max((w for w in waits if w), default=1))
    return Response(orjson.dumps(body), status_code=status, media_type=media_type, headers=headers)
