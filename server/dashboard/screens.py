"""The frame of every workspace screen: who is signed in, in which workspace, with what role.

`Screens.route` wraps a handler so that it only ever runs for a member of the
workspace in the URL (anyone else: the sign-in page, or 404 as for a
workspace that does not exist), and so that every unsafe request carries the
session-bound CSRF token besides passing the same-origin check. htmx sends
the token from `hx-headers:inherited` on <body>; plain forms in a hidden
field. Answers that differ for htmx say so with `Vary: HX-Request`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.auth import SESSION_COOKIE
from server.dashboard.pages import Outcome, Pages, Refused, read_form
from server.policy import Role, SessionPrincipal

CSRF_HEADER = "x-csrf-token"
STATUS = {"FORBIDDEN": 403, "NOT_FOUND": 404, "VALIDATION_FAILED": 422, "FIELD_NOT_ALLOWED": 422}
CSRF_FIELD = "csrf"


def csrf_token(secret: str, session_token: str) -> str:
    """Bound to the session: useless with another cookie, and nothing to store."""
    return hmac.new(f"csrf:{secret}".encode(), session_token.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Visit:
    """One request to a workspace screen."""

    request: Request
    principal: SessionPrincipal
    workspace_id: str
    role: Role
    csrf: str
    form: dict[str, str]  # the posted form; empty for GET

    @property
    def htmx(self) -> bool:
        return self.request.headers.get("hx-request") == "true"

    @property
    def target(self) -> str | None:
        """The id of the element an htmx request will swap (htmx 4 sends `tag#id`), else None.

        Only a request aimed at one of our fragments gets a fragment: htmx's own
        history restore (the back button after a cache miss) targets <body> and
        must get the whole page.
        """
        if not self.htmx:
            return None
        return self.request.headers.get("hx-target", "").rpartition("#")[2] or None

    def can(self, role: Role) -> bool:
        """For templates: show a button only to those the API would let use it."""
        return self.role.rank >= role.rank


ScreenHandler = Callable[[Visit], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Screens:
    pages: Pages

    def route(self, path: str, handler: ScreenHandler, *, name: str, method: str = "GET") -> Route:
        pages = self.pages

        async def endpoint(request: Request) -> Response:
            principal = await pages.signed_in(request)
            if principal is None:
                response = pages.redirect(request, "login")
                if request.cookies.get(SESSION_COOKIE):
                    pages.end_session(request, response)
                return response
            workspace_id = request.path_params["workspace"]
            role = principal.roles.get(workspace_id)
            if role is None:
                raise Refused(404, "Not found", "There is no such page.")
            csrf = csrf_token(pages.settings.secret_key, request.cookies[SESSION_COOKIE])
            form: dict[str, str] = {}
            if method == "POST":
                # htmx buttons may post no body at all; the token then comes in the header.
                has_body = request.headers.get("content-type") or request.headers.get("content-length", "0") != "0"
                form = await read_form(request) if has_body else {}
                given = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD, "")
                if not hmac.compare_digest(given, csrf):
                    raise Refused(403, "Request refused", "This page was open too long or came from elsewhere. Reload it and try again.")
            response = await handler(Visit(request, principal, workspace_id, role, csrf, form))
            response.headers["vary"] = "HX-Request"
            return response

        return pages.route(path, endpoint, name=name, method=method)

    def render(self, visit: Visit, template: str, context: dict[str, Any], status: int = 200) -> Response:
        return self.pages.render(visit.request, template, {"visit": visit, **context}, status)

    async def run(self, visit: Visit, operation: str, variables: dict[str, Any] | None = None) -> Outcome:
        return await self.pages.operation(visit.request, visit.principal, operation, variables)

    def redirect(self, visit: Visit, name: str, **params: str) -> Response:
        """303 to a screen of this workspace (after a plain form post)."""
        return self.pages.redirect(visit.request, name, workspace=visit.workspace_id, **params)

    async def page(self, visit: Visit, template: str, context: dict[str, Any], status: int = 200) -> Response:
        """A full page in the workspace frame (navigation, workspace switcher)."""
        viewer = (await self.read(visit, "Frame"))["viewer"]
        current = next(w for w in viewer["workspaces"] if w["id"] == visit.workspace_id)
        frame = {"user": viewer["user"], "workspaces": viewer["workspaces"], "workspace": current}
        return self.render(visit, template, {"frame": frame, **context}, status)

    async def refused(self, visit: Visit, outcome: Outcome) -> Response:
        """An action the API refused: a message where the page shows them; the page stays usable.

        For htmx the message goes into the page's #flash area (HX-Retarget), not
        in place of the element that asked, which would break the page.
        """
        code = outcome.errors[0].get("extensions", {}).get("code") if outcome.errors else None
        status = STATUS.get(code or "", 400)
        message = outcome.errors[0]["message"] if outcome.errors else "This could not be done."
        if visit.htmx:
            response = self.render(visit, "_flash.html", {"message": message}, status)
            response.headers.update({"hx-retarget": "#flash", "hx-reswap": "innerHTML"})
            return response
        raise Refused(status, "Not done", message)

    async def read(self, visit: Visit, operation: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """Data a page cannot do without; a refusal here becomes the error page."""
        outcome = await self.run(visit, operation, variables)
        if outcome.errors or outcome.data is None:
            code = outcome.errors[0].get("extensions", {}).get("code") if outcome.errors else None
            if code == "NOT_FOUND":
                raise Refused(404, "Not found", "There is no such page.")
            raise Refused(400, "Not possible", outcome.errors[0]["message"] if outcome.errors else "This could not be shown.")
        return outcome.data
