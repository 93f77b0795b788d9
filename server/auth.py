"""Request -> Principal: a collaboration key (Authorization header) or a person (session cookie).

Keys come only from the Authorization header: a key in a URL ends up in proxy
logs, browser history and Referer headers, so a request that carries
anything key-like in its query string is refused before the key is looked at.

Cookies ride along on cross-site requests, so a cookie-authenticated unsafe
request must also show it comes from our own pages (Fetch-Metadata, or a
matching Origin where the browser sends no Sec-Fetch-Site).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from starlette.requests import HTTPConnection

from server.errors import CrossSiteRequest, Unauthenticated
from server.observability.metrics import key_outcome
from server.observability.request_info import request_info
from server.policy import Principal
from server.services.accounts import session_principal
from server.services.verification import principal_for
from server.settings import Settings

KEY_IN_URL = re.compile(r"tm_(test|live)_|(^|&)(key|api_?key|access_token|token|authorization)=", re.IGNORECASE)
SESSION_COOKIE = "threemin_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def refuse_key_in_url(request: HTTPConnection) -> None:
    # The raw query string (what request.url.query gives, without building a URL
    # object for every partner request).
    query = request.scope.get("query_string", b"").decode("latin-1")
    if query and KEY_IN_URL.search(unquote_plus(query)):
        raise Unauthenticated(
            "Keys are accepted only in the 'Authorization: Bearer' header, never in a URL. "
            "If you sent a real key this way, treat it as leaked and replace it."
        )


def same_origin(request: HTTPConnection) -> bool:
    """OWASP's Fetch-Metadata check, with the Origin header as the fallback."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return origin == f"{request.url.scheme}://{request.url.netloc}"


async def authenticate(request: HTTPConnection, settings: Settings) -> Principal:
    refuse_key_in_url(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != "bearer" or not credentials.strip():
            request_info().key_outcome = "malformed"
            raise Unauthenticated()
        return await _verified(credentials.strip(), settings)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        if request.scope.get("method", "GET") not in SAFE_METHODS and not same_origin(request):
            raise CrossSiteRequest()
        return await session_principal(token, settings, datetime.now(UTC))
    raise Unauthenticated()


async def _verified(presented: str, settings: Settings) -> Principal:
    """principal_for, noting how it ended for the key verification metric."""
    try:
        principal = await principal_for(presented, settings.secret_key, datetime.now(UTC))
    except Exception as refused:
        request_info().key_outcome = key_outcome(presented, refused)
        raise
    request_info().key_outcome = "ok"
    return principal
