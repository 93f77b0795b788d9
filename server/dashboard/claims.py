"""A partner's one-time claim link: see what the key is for, then reveal it once.

GET only describes the key: link scanners and mail previews open links, and
must not use up the partner's one chance. The key is minted by the POST of
the "Reveal my key" button and is in that response only.
"""

from __future__ import annotations

import json
import shlex
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.dashboard.pages import Pages, Refused, actor
from server.errors import NotFound
from server.services import keys
from server.services.keys import ClaimView

# The example request: any key may ask it whatever its rights, and the answer
# lists the fields the partner sends. The key itself is never in the example.
VIEWER_QUERY = "{ viewer { key { environment permissions writableFields endpoint { id name fields { name type required } } } } }"


def _curl(graphql_url: str) -> str:
    body = json.dumps({"query": VIEWER_QUERY})
    return (
        f'curl -s {shlex.quote(graphql_url)} \\\n  -H "Authorization: Bearer $THREEMIN_KEY" \\\n'
        f'  -H "Content-Type: application/json" \\\n  -d {shlex.quote(body)}'
    )


async def _inspect(token: str, pages: Pages) -> ClaimView:
    try:
        return await keys.inspect_claim(token, pages.settings)
    except NotFound as gone:
        raise Refused(404, "This link cannot be used", gone.message) from None


def _expires_in(expires_at: datetime) -> str:
    hours = int((expires_at - datetime.now(UTC)).total_seconds() // 3600)
    if hours >= 48:
        return f"in {hours // 24} days"
    return f"in {hours} hours" if hours > 1 else "in 1 hour" if hours == 1 else "in less than an hour"


def routes(pages: Pages) -> list[Route]:
    async def show(request: Request) -> Response:
        token = request.path_params["token"]
        view = await _inspect(token, pages)
        expires = view.expires_at.astimezone(UTC)
        context = {
            "token": token,
            "claim": view,
            "expires": f"{expires.day} {expires:%B %Y, %H:%M} UTC",
            "expires_iso": expires.isoformat(),
            "expires_in": _expires_in(expires),
        }
        return pages.render(request, "claim.html", context)

    async def reveal(request: Request) -> Response:
        token = request.path_params["token"]
        view = await _inspect(token, pages)  # the endpoint id for the example; also refuses a used link early
        try:
            _, secret = await keys.claim(token, pages.settings, actor(request, "claim-link"))
        except NotFound as gone:  # a second tab was quicker
            raise Refused(404, "This link cannot be used", gone.message) from None
        graphql_url = pages.settings.base_url + "/graphql"
        context = {"claim": view, "key": secret, "graphql_url": graphql_url, "curl": _curl(graphql_url)}
        return pages.render(request, "claim_revealed.html", context)

    return [
        pages.route("/claim/{token}", show, name="claim"),
        pages.route("/claim/{token}", reveal, name="claim_reveal", method="POST"),
    ]
