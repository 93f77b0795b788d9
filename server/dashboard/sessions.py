"""Signing in and out, and the page a signed-in person lands on."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.auth import SESSION_COOKIE
from server.dashboard.pages import Pages, actor, read_form
from server.errors import RateLimited, Unauthenticated
from server.services import accounts

# Runs through the schema like every dashboard read (DESIGN.md, Dashboard).
HOME = "query Home { viewer { user { name email } workspaces { id name role } } }"


def routes(pages: Pages) -> list[Route]:
    async def home(request: Request) -> Response:
        principal = await pages.signed_in(request)
        if principal is None:
            response = pages.redirect(request, "login")
            if request.cookies.get(SESSION_COOKIE):  # ended or forged: drop it
                pages.end_session(request, response)
            return response
        viewer = (await pages.run(request, principal, HOME))["viewer"]
        return pages.render(request, "home.html", {"user": viewer["user"], "workspaces": viewer["workspaces"]})

    async def login_form(request: Request) -> Response:
        return pages.render(request, "login.html", {"email": ""})

    async def login(request: Request) -> Response:
        form = await read_form(request)
        email = form.get("email", "")
        try:
            _, token = await accounts.sign_in(email, form.get("password", ""), pages.settings, actor(request), pages.limiter)
        except Unauthenticated as refused:
            # One message for an unknown email and a wrong password alike.
            return pages.render(request, "login.html", {"email": email, "error": refused.message}, 401)
        except RateLimited as throttled:
            response = pages.render(request, "login.html", {"email": email, "error": throttled.message}, 429)
            response.headers["retry-after"] = str(throttled.extensions["retryAfter"])
            return response
        # The browser's previous session (another account, maybe) ends rather than linger unseen.
        if previous := await pages.signed_in(request):
            await accounts.end_session(previous.session_id)
        response = pages.redirect(request, "home")
        pages.start_session(request, response, token)
        return response

    async def logout(request: Request) -> Response:
        principal = await pages.signed_in(request)
        if principal is not None:
            await accounts.end_session(principal.session_id)
        response = pages.redirect(request, "login")
        pages.end_session(request, response)
        return response

    return [
        pages.route("/", home, name="home"),
        pages.route("/login", login_form, name="login"),
        pages.route("/login", login, name="login_submit", method="POST"),
        pages.route("/logout", logout, name="logout", method="POST"),
    ]
