"""Request -> Principal. Keys come only from the Authorization header.

A key in a URL ends up in proxy logs, browser history and Referer headers, so
a request that carries anything key-like in its query string is refused
outright, before the key is even looked at.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from starlette.requests import Request

from server.errors import Unauthenticated
from server.policy import Principal
from server.services.keys import principal_for
from server.settings import Settings

KEY_IN_URL = re.compile(r"tm_(test|live)_|(^|&)(key|api_?key|access_token|token|authorization)=", re.IGNORECASE)


async def authenticate(request: Request, settings: Settings) -> Principal:
    if KEY_IN_URL.search(unquote_plus(request.url.query)):
        raise Unauthenticated(
            "Keys are accepted only in the 'Authorization: Bearer' header, never in a URL. "
            "If you sent a real key this way, treat it as leaked and replace it."
        )
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise Unauthenticated()
    return await principal_for(credentials.strip(), settings.secret_key, datetime.now(UTC))
