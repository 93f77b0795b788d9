"""Prometheus metrics: requests by operation and outcome code, key verifications, latency.

Each app has its own CollectorRegistry (the test suite builds many apps in one
process). Labels are bounded by what the server defines, never by what a
client sends: an operation is a root field of the schema (not the client's
operationName, not an alias) or a route's name; a code is OK or an error code
of our vocabulary. A request that asks for several root fields counts once for
each of them, with the duration of the whole request.

Several worker processes: prometheus_client's multiprocess mode, when
PROMETHEUS_MULTIPROC_DIR names a folder (read by prometheus_client itself when
it is first imported). Every worker writes its counts there and /metrics sums
the folder, so any worker answers for all of them. `threemin serve` empties
the folder at start, as prometheus_client requires.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    parse,
)
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.gc_collector import GCCollector
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from starlette.requests import Request
from starlette.responses import Response

from server import keys
from server.errors import KeyDisabled, KeyExpired, ThreeminError
from server.observability.request_info import RequestInfo

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
GRAPHQL = "graphql"  # the /graphql route, for requests refused before their operation is known
UNMATCHED = "unmatched"  # no route: a 404 for a path nobody serves
# From a quick createRecord (~1 ms) to a request timing out.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_CODE = re.compile(r"[A-Z][A-Z_]{0,39}")
# Documents longer than this are parsed again for each request rather than
# kept: the cache must not hold megabytes of hostile query text.
_CACHED_QUERY_CHARS = 10_000
_INTROSPECTION = frozenset({"__schema", "__type", "__typename"})


class Metrics:
    def __init__(self, root_fields: Iterable[str], *, multiprocess_dir: str | None = None) -> None:
        self.root_fields = frozenset(root_fields) | _INTROSPECTION
        self.multiprocess_dir = multiprocess_dir
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "threemin_requests", "Requests by operation (GraphQL root field or route name) and outcome code (OK or an error code).",
            ["operation", "code"], registry=self.registry,
        )
        self.key_verifications = Counter(
            "threemin_key_verifications", "Keys presented, by outcome: ok, malformed, unknown, deactivated, expired, error.",
            ["outcome"], registry=self.registry,
        )
        self.duration = Histogram(
            "threemin_request_duration_seconds", "Time from the request's arrival to the end of its answer, by operation.",
            ["operation"], buckets=BUCKETS, registry=self.registry,
        )
        if multiprocess_dir is None:
            # Per-process facts make no sense summed over workers.
            for collector in (ProcessCollector, PlatformCollector, GCCollector):
                collector(registry=self.registry)

    @classmethod
    def for_schema(cls, schema: Any) -> Metrics:
        # strawberry keeps graphql-core's schema as `_schema`; its root types bound the labels.
        core = schema._schema
        fields = [name for root in (core.query_type, core.mutation_type) if root is not None for name in root.fields]
        return cls(fields, multiprocess_dir=os.environ.get(MULTIPROCESS_DIR) or None)

    def observe(self, route: str | None, info: RequestInfo, status: int, seconds: float) -> None:
        for operation, code in self.outcomes(route, info, status):
            self.requests.labels(operation, code).inc()
            self.duration.labels(operation).observe(seconds)
        if info.key_outcome is not None:
            self.key_verifications.labels(info.key_outcome).inc()

    def outcomes(self, route: str | None, info: RequestInfo, status: int) -> list[tuple[str, str]]:
        if info.graphql_body is not None:
            return graphql_outcomes(info.graphql_document, info.graphql_body, self.root_fields)
        return [(route or UNMATCHED, code_for_status(status))]

    def render(self) -> bytes:
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        every_worker = CollectorRegistry()
        MultiProcessCollector(every_worker, path=self.multiprocess_dir)
        return generate_latest(every_worker)


class MetricsEndpoint:
    """/metrics behind `Authorization: Bearer THREEMIN_METRICS_TOKEN` (only routed when the token is set)."""

    def __init__(self, metrics: Metrics, token: str) -> None:
        self.metrics = metrics
        self.expected = f"Bearer {token}".encode()

    async def handle(self, request: Request) -> Response:
        given = request.headers.get("authorization", "").encode("latin-1")
        # Constant time: the comparison must not tell how much of a guess was right.
        if not hmac.compare_digest(given, self.expected):
            headers = {"www-authenticate": 'Bearer realm="threemin metrics"', "cache-control": "no-store"}
            return Response("A valid metrics token is required.\n", status_code=401, media_type="text/plain", headers=headers)
        return Response(self.metrics.render(), media_type=CONTENT_TYPE_LATEST, headers={"cache-control": "no-store"})


def graphql_outcomes(document: tuple[str, str | None] | None, body: dict[str, Any], known: frozenset[str]) -> list[tuple[str, str]]:
    """(root field, code) for each root field of the executed operation.

    A request refused before execution (no key, bad JSON, a document that does
    not validate) has no trustworthy fields: it counts under "graphql".
    """
    errors = body.get("errors") or []
    if "data" not in body or document is None:
        return [(GRAPHQL, _first_code(errors))]
    fields = root_fields(*document)
    fields = tuple((key, name) for key, name in fields if name in known)
    if not fields:
        return [(GRAPHQL, _first_code(errors))]
    by_key: dict[str, str] = {}
    for error in errors:
        path = error.get("path")
        if path:
            by_key.setdefault(str(path[0]), _code(error))
    return [(name, by_key.get(key, "OK")) for key, name in fields]


def root_fields(query: str, operation_name: str | None) -> tuple[tuple[str, str], ...]:
    """(response key, field name) of each root field the operation selects, fragments followed."""
    if len(query) > _CACHED_QUERY_CHARS:
        return _root_fields(query, operation_name)
    return _cached_root_fields(query, operation_name)


def _root_fields(query: str, operation_name: str | None) -> tuple[tuple[str, str], ...]:
    try:
        document = parse(query, no_location=True)
    except GraphQLError:
        return ()
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or (o.name is not None and o.name.value == operation_name)]
    if len(chosen) != 1:
        return ()
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    found: list[tuple[str, str]] = []
    _collect(chosen[0].selection_set, fragments, found, set())
    return tuple(found)


_cached_root_fields = lru_cache(maxsize=256)(_root_fields)


def _collect(selections: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], found: list[tuple[str, str]], seen: set[str]) -> None:
    for selection in selections.selections:
        if isinstance(selection, FieldNode):
            name = selection.name.value
            found.append(((selection.alias or selection.name).value, name))
        elif isinstance(selection, InlineFragmentNode):
            _collect(selection.selection_set, fragments, found, seen)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
            seen.add(selection.name.value)
            fragment = fragments.get(selection.name.value)
            if fragment is not None:
                _collect(fragment.selection_set, fragments, found, seen)


def _first_code(errors: list[dict[str, Any]]) -> str:
    return _code(errors[0]) if errors else "OK"


def _code(error: dict[str, Any]) -> str:
    code = (error.get("extensions") or {}).get("code")
    return code if isinstance(code, str) and _CODE.fullmatch(code) else "OTHER"


def _status_codes() -> dict[int, str]:
    """Our vocabulary's HTTP statuses (the first class with a status names it), for pages and plain routes."""
    codes: dict[int, str] = {404: "NOT_FOUND", 500: "INTERNAL_ERROR"}
    pending: list[type[ThreeminError]] = [ThreeminError]
    while pending:
        cls = pending.pop(0)
        if cls.status >= 400:
            codes.setdefault(cls.status, cls.code)
        pending.extend(cls.__subclasses__())
    return codes


_STATUS_CODES = _status_codes()


def code_for_status(status: int) -> str:
    if status < 400:
        return "OK"
    return _STATUS_CODES.get(status, f"HTTP_{status}")


def key_outcome(presented: str, refused: BaseException | None) -> str:
    """How verifying a presented key ended, for threemin_key_verifications_total."""
    if refused is None:
        return "ok"
    if isinstance(refused, KeyDisabled):
        return "deactivated"
    if isinstance(refused, KeyExpired):
        return "expired"
    if isinstance(refused, ThreeminError):
        # Both answer UNAUTHENTICATED to the caller; only the operator sees which.
        return "malformed" if keys.parse(presented) is None else "unknown"
    return "error"


def clear_multiprocess_dir(environ: Mapping[str, str] | None = None) -> None:
    """Remove the last run's files: counts of processes that are gone would be added forever."""
    folder = (os.environ if environ is None else environ).get(MULTIPROCESS_DIR)
    if not folder:
        return
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
