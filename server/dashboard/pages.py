"""What every dashboard page shares: rendering with the security headers, the
cross-site check on forms, reading a form body, the session cookie, and
running a GraphQL operation as the signed-in person.

Handlers never build a Response with headers of their own: `Pages.route`
wraps them, so no page can leave out the CSP or the no-store header, and a
`Refused` raised anywhere becomes the HTML error page with its status.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import strawberry
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from server.auth import SESSION_COOKIE, same_origin
from server.dashboard import operations
from server.errors import Unauthenticated
from server.graphql.context import Context
from server.graphql.errors import format_error
from server.policy import SessionPrincipal
from server.ratelimit import Limiter
from server.services import accounts
from server.services.audit import Actor
from server.services.usage import KeyUsage
from server.settings import Settings

log = logging.getLogger(__name__)

# No inline script or style anywhere, so nothing needs 'unsafe-inline' or a hash.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "content-security-policy": PAGE_CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    # Setup, invitation and claim links carry their token in the path: never
    # let it leave in a Referer, nor a page with a key sit in a cache.
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}
# The largest of our forms is the endpoint editor: up to 200 fields of 5 inputs each.
FORM_LIMIT = 128 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"

Handler = Callable[[Request], Awaitable[Response]]


class Refused(Exception):
    """Ends a request with the error page: a status, a heading and a public message."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


CROSS_SITE = "This form was sent from another site, so it was not accepted. Open the page on threemin itself and try again."


@dataclass(frozen=True, slots=True)
class Pages:
    settings: Settings
    templates: Jinja2Templates
    schema: strawberry.Schema
    key_usage: KeyUsage
    limiter: Limiter

    def route(self, path: str, handler: Handler, *, name: str, method: str = "GET") -> Route:
        """A route whose every answer carries the security headers; POSTs must come from our own pages."""

        async def endpoint(request: Request) -> Response:
            try:
                # Login CSRF too: a foreign site must not sign a browser in to its own account.
                if method == "POST" and not same_origin(request):
                    raise Refused(403, "Request refused", CROSS_SITE)
                response = await handler(request)
            except Refused as refused:
                response = self.render(request, "error.html", {"title": refused.title, "message": refused.message}, refused.status)
            response.headers.update(SECURITY_HEADERS)
            return response

        return Route(path, endpoint, methods=[method], name=name)

    def render(self, request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200) -> Response:
        return self.templates.TemplateResponse(request, template, context or {}, status_code=status)

    def redirect(self, request: Request, name: str, **params: str) -> Response:
        # A path, not an absolute URL: behind a proxy the scheme we see may be wrong.
        return RedirectResponse(request.url_for(name, **params).path, status_code=303)

    def start_session(self, request: Request, response: Response, token: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=self.settings.session_max_hours * 3600,
            path="/",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )

    def end_session(self, request: Request, response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/", secure=request.url.scheme == "https", httponly=True, samesite="lax")

    async def signed_in(self, request: Request) -> SessionPrincipal | None:
        """The person behind the session cookie, or None (no cookie, or the session has ended)."""
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        try:
            return await accounts.session_principal(token, self.settings, datetime.now(UTC))
        except Unauthenticated:
            return None

    async def run(self, request: Request, principal: SessionPrincipal, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Execute an operation with the same context as /graphql: the page can do nothing the API would refuse."""
        outcome = await self.execute(request, principal, document, variables)
        if outcome.errors or outcome.data is None:
            raise Refused(500, "Something went wrong", f"This page could not be shown. Reference: {outcome.request_id}.")
        return outcome.data

    async def operation(self, request: Request, principal: SessionPrincipal, name: str, variables: dict[str, Any] | None = None) -> Outcome:
        """Run a named operation of web/operations; expected refusals come back in `errors`."""
        return await self.execute(request, principal, operations.document(name), variables, name)

    async def execute(
        self, request: Request, principal: SessionPrincipal, document: str, variables: dict[str, Any] | None = None, name: str | None = None
    ) -> Outcome:
        context = Context.for_request(request, principal, self.settings, self.key_usage, secrets.token_hex(8))
        result = await self.schema.execute(document, variable_values=variables, context_value=context, operation_name=name)
        errors = [format_error(error, context.request_id) for error in result.errors or []]
        if any(e.get("extensions", {}).get("code") in UNEXPECTED for e in errors):
            log.error("dashboard operation %s failed (request %s): %s", name, context.request_id, [e["message"] for e in errors])
            raise Refused(500, "Something went wrong", f"This could not be done. Reference: {context.request_id}.")
        return Outcome(result.data, errors, context.request_id)


# Codes that mean a bug or a stale page, not a refusal a person can act on.
UNEXPECTED = {"INTERNAL_ERROR", "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"}


@dataclass(frozen=True, slots=True)
class Outcome:
    data: dict[str, Any] | None
    errors: list[dict[str, Any]]
    request_id: str

    @property
    def field_errors(self) -> dict[str, str]:
        """Why each field was refused, plus `_form` for a refusal not about one field."""
        found: dict[str, str] = {}
        for error in self.errors:
            fields = error.get("extensions", {}).get("fields")
            if fields:
                found.update(fields)
            else:
                found.setdefault("_form", error["message"])
        return found


def actor(request: Request, who: str = "anonymous") -> Actor:
    """Who did it for the audit log; services put the user's id in place of `who` once they know it."""
    return Actor(who, request.client.host if request.client else None, request.headers.get("user-agent"))


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a url-encoded form (first value of each).

    Parsed here rather than with request.form(), which needs python-multipart
    for a format none of our forms use.
    """
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != FORM_TYPE:
        raise Refused(415, "Unexpected form", "This page accepts only its own form.")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > FORM_LIMIT:
            raise Refused(413, "Too much data", "The form was larger than any of ours can be.")
        chunks.append(chunk)
    try:
        fields = parse_qs(b"".join(chunks).decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=1500)
    except ValueError:
        raise Refused(400, "Unexpected form", "This page accepts only its own form.") from None
    return {name: values[0] for name, values in fields.items()}
