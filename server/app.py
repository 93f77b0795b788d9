"""create_app(settings) -> Starlette: the composition root, the only module that knows every part."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

import web
from server import dashboard
from server.auth import SESSION_COOKIE
from server.dashboard.pages import Pages
from server.db import open_database
from server.graphql.http import GraphQLEndpoint
from server.graphql.schema import build_schema
from server.leak_report import GitHubLeakReport
from server.observability import health
from server.observability.metrics import Metrics, MetricsEndpoint
from server.observability.middleware import RequestObserver
from server.policy import Role
from server.ratelimit import limiter_for
from server.background import repeating
from server.services import idempotency, idle
from server.services.usage import KeyUsage
from server.settings import Settings

WEB = Path(web.__file__).parent

# Everything from our own origin. GraphiQL's dialogs inject one fixed <style>
# element: it is allowed by its hash, not by 'unsafe-inline' (see
# web/static/graphiql/README.md; Chromium's console prints the new hash if a
# GraphiQL upgrade changes it).
GRAPHIQL_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'sha256-Y/huXlwoYkVyQlxwSVcCi1RCDGDCSVBzDt0hYP9qlTc='; "
    "img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def create_app(settings: Settings, *, manage_database: bool = True) -> Starlette:
    """The whole service. Without `manage_database` the caller (a test) has opened the database."""
    key_usage = KeyUsage(settings.secret_key)
    templates = Jinja2Templates(directory=WEB / "templates")

    def graphiql(request: Request) -> Response:
        # Only a hint for the page script (the API checks the session itself).
        signed_in = bool(request.cookies.get(SESSION_COOKIE))
        response = templates.TemplateResponse(request, "graphiql.html", {"static": "/static", "signed_in": signed_in})
        response.headers.update(
            {"content-security-policy": GRAPHIQL_CSP, "x-frame-options": "DENY", "x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}
        )
        return response

    schema = build_schema(settings)
    limiter = limiter_for(settings)
    endpoint = GraphQLEndpoint(schema, settings, key_usage, limiter, graphiql)
    pages = Pages(settings, templates, schema, key_usage, limiter)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not manage_database:
            yield
            return
        async with open_database(settings, global_fallback=True):
            async with (
                key_usage.flushing_every(settings.last_used_flush_seconds),
                repeating(idle.SWEEP_SECONDS, functools.partial(idle.sweep_after, key_usage.flush), "idle-key sweep"),
                repeating(idempotency.FORGET_EVERY_SECONDS, lambda: idempotency.forget_expired(datetime.now(UTC)), "forgetting old idempotency answers"),
            ):
                yield

    # Counted only when they can be read: THREEMIN_METRICS_TOKEN set.
    metrics = Metrics.for_schema(schema) if settings.metrics_token else None
    operations = [Route("/healthz", health.healthz, name="healthz"), Route("/readyz", health.readyz, name="readyz")]
    if metrics is not None:
        operations.append(Route("/metrics", MetricsEndpoint(metrics, settings.metrics_token).handle, name="metrics"))
    routes = [
        # First: Starlette tries routes in order, and the dashboard's fifty would
        # otherwise be matched (a regex each) before every partner request.
        Route("/graphql", endpoint.handle, methods=["GET", "POST"], name="graphql"),
        *operations,
        *dashboard.routes(pages),
        Route("/leaks/github", GitHubLeakReport(settings).handle, methods=["POST"], name="github_leak_report"),
        Mount("/static", StaticFiles(directory=WEB / "static"), name="static"),
    ]
    # Templates link only to screens that exist, and show buttons by role.
    templates.env.globals.update(url_names={route.name for route in routes}, roles=Role)
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(RequestObserver, metrics=metrics)])
    app.state.settings = settings
    app.state.key_usage = key_usage
    app.state.schema = schema
    return app
