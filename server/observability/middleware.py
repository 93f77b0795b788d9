"""RequestObserver: the outermost middleware, plain ASGI (BaseHTTPMiddleware costs a task per request).

For every HTTP request: an id (the caller's sane X-Request-Id, else a new one)
in a contextvar for logs and handlers and in the `x-request-id` response
header; then, once the answer is sent, the metrics and one access log line.
The access line names the route, never the path: paths carry claim and
invitation tokens, query strings may carry a mistaken key.
"""

from __future__ import annotations

import logging
import time

from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.observability.metrics import Metrics
from server.observability.request_info import RequestInfo, begin, end, request_id_from

HEADER = b"x-request-id"
access_log = logging.getLogger("threemin.access")
log = logging.getLogger("threemin.http")


class RequestObserver:
    def __init__(self, app: ASGIApp, metrics: Metrics | None) -> None:
        """Without `metrics` (THREEMIN_METRICS_TOKEN unset) nothing is counted."""
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == HEADER), None)
        info = RequestInfo(id=request_id_from(given))
        header = (HEADER, info.id.encode())
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
                message["headers"] = [*(h for h in message.get("headers", ()) if h[0].lower() != HEADER), header]
            await send(message)

        token = begin(info)
        began = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            # Logged here, where the request id is known; Starlette's outer
            # error middleware sees a response already started and re-raises
            # for the server, as it would have anyway.
            log.exception("unhandled error")
            if not started:
                await PlainTextResponse("Internal Server Error", status_code=500)(scope, receive, send_with_id)
            raise
        finally:
            seconds = time.perf_counter() - began
            route = getattr(scope.get("route"), "name", None)
            if self.metrics is not None:
                self.metrics.observe(route, info, status, seconds)
            access_log.info(
                "%s %s %d %.1f ms", scope["method"], route or "unmatched", status, seconds * 1000,
                extra={"method": scope["method"], "route": route, "status": status, "duration_ms": round(seconds * 1000, 2)},
            )
            end(token)
