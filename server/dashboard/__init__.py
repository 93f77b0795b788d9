"""The dashboard's HTML pages: sign-in, first-run setup and invitations, claim links, home.

Handlers parse the request, call a service (or run a GraphQL operation as the
signed-in person) and render a template; they hold no rules of their own.
`routes` is all that app.py needs from here.
"""

from __future__ import annotations

from starlette.routing import Route

from server.dashboard import (
    audit,
    checklist,
    claims,
    endpoints,
    invitations,
    key_safety,
    keys,
    members,
    partners,
    records,
    sessions,
)
from server.dashboard.pages import Pages
from server.dashboard.screens import Screens


def routes(pages: Pages) -> list[Route]:
    screens = Screens(pages)
    return [
        *sessions.routes(pages),
        *invitations.routes(pages),
        *claims.routes(pages),
        *keys.routes(screens),
        *endpoints.routes(screens),
        *records.routes(screens),
        *partners.routes(screens),
        *audit.routes(screens),
        *members.routes(screens),
        *checklist.routes(screens),
        *key_safety.routes(screens),
    ]
