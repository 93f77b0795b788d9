"""An endpoint's page: its records under a Test / Live switch, a record's detail, exports, a chart.

Every read is a named operation of web/operations/records.graphql, so a
person sees exactly what the API lets them see, one environment at a time
(Test unless the URL says Live). Paging follows the API's cursors forward;
the cursors already passed ride along in the URL (`back`) so that "Newer"
and the back button work without a backward cursor in the API. Exports
stream every record of the endpoint and environment, page by page.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from server.dashboard import chart, snippets
from server.dashboard.pages import Refused
from server.dashboard.screens import Screens, Visit

PAGE_SIZE = 25
CHART_DAYS = 14
CHART_PAGES = 10  # at most this many pages of the API's largest size feed the chart
BACK_LIMIT = 100  # cursors kept for "Newer"; older ones fall off (the first page is always reachable)
META_COLUMNS = ("id", "createdAt", "partnerId")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheets read as the start of a formula


def environment(visit: Visit) -> str:
    """TEST unless the URL asks for LIVE: never both, never a guess between them."""
    return "LIVE" if visit.request.query_params.get("environment", "").upper() == "LIVE" else "TEST"


def cell(value: Any) -> str:
    """A record value as CSV text; text a spreadsheet would run as a formula gets a leading '."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(FORMULA_START) else text


def shown(value: Any) -> str:
    """A record value for a page."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def csv_lines(columns: list[str], nodes: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for node in nodes:
        data = node.get("data") or {}
        writer.writerow([cell(data.get(c)) for c in columns[: -len(META_COLUMNS)]] + [cell(node[c]) for c in META_COLUMNS])
    return out.getvalue()


def csv_header(columns: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([cell(c) for c in columns])
    return out.getvalue()


def json_item(node: dict[str, Any]) -> str:
    item = {"id": node["id"], "createdAt": node["createdAt"], "partnerId": node["partnerId"], "environment": node["environment"], "data": node.get("data")}
    return json.dumps(item, ensure_ascii=False)


def filename(name: str, env: str, extension: str, today: datetime) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:60] or "endpoint"
    return f"{slug}-{env.lower()}-{today:%Y-%m-%d}.{extension}"


def routes(screens: Screens) -> list[Route]:
    async def context(visit: Visit) -> dict[str, Any]:
        """The endpoint of the URL, its partners' names, and the environment shown."""
        data = (await screens.read(visit, "EndpointPage", {"workspace": visit.workspace_id}))["workspace"]
        wanted = visit.request.path_params["endpoint"]
        endpoint = next((e for e in data["endpoints"] if e["id"] == wanted), None)
        if endpoint is None:
            raise Refused(404, "Not found", "There is no such page.")
        names = {p["id"]: p["name"] for p in data["partners"]}
        return {"endpoint": endpoint, "partners": names, "environment": environment(visit), "shown": shown}

    def link(visit: Visit, name: str, query: dict[str, str] | None = None, **params: str) -> str:
        path = visit.request.url_for(name, workspace=visit.workspace_id, **params).path
        query = {k: v for k, v in (query or {}).items() if v}
        return path + ("?" + urlencode(query) if query else "")

    async def records_page(visit: Visit, ctx: dict[str, Any]) -> dict[str, Any]:
        """One page of records, with the links to the pages beside it."""
        query = visit.request.query_params
        after = query.get("after") or None
        back = [c for c in query.get("back", "").split(".") if c][-BACK_LIMIT:] if after else []
        env, endpoint_id = ctx["environment"], ctx["endpoint"]["id"]
        variables = {"endpoint": endpoint_id, "environment": env, "first": PAGE_SIZE, "after": after}
        connection = (await screens.read(visit, "EndpointRecords", variables))["records"]
        here = {"environment": env}
        next_url = newer_url = None
        if connection["pageInfo"]["hasNextPage"] and connection["edges"]:
            older = [*back, after] if after else []
            next_url = link(
                visit, "endpoint", {**here, "after": connection["pageInfo"]["endCursor"], "back": ".".join(older[-BACK_LIMIT:])}, endpoint=endpoint_id
            )
        if after:
            newer_url = link(visit, "endpoint", {**here, "after": back[-1] if back else "", "back": ".".join(back[:-1])}, endpoint=endpoint_id)
        return {
            "records": [edge["node"] for edge in connection["edges"]],
            "next_url": next_url,
            "newer_url": newer_url,
            "newest_url": link(visit, "endpoint", here, endpoint=endpoint_id) if len(back) > 0 else None,
            "page_number": len(back) + 2 if after else 1,
        }

    async def recent(visit: Visit, endpoint_id: str, env: str, since: datetime) -> tuple[list[dict[str, Any]], bool]:
        """Who sent what since `since` (newest first), and whether that is all of it."""
        rows: list[dict[str, Any]] = []
        after = None
        for _ in range(CHART_PAGES):
            variables = {"endpoint": endpoint_id, "environment": env, "first": screens.pages.settings.max_page_size, "after": after}
            connection = (await screens.read(visit, "RecordTimes", variables))["records"]
            for edge in connection["edges"]:
                if datetime.fromisoformat(edge["node"]["createdAt"]) < since:
                    return rows, True
                rows.append(edge["node"])
            if not connection["pageInfo"]["hasNextPage"]:
                return rows, True
            after = connection["pageInfo"]["endCursor"]
        return rows, False

    async def endpoint_page(visit: Visit) -> Response:
        ctx = await context(visit)
        ctx.update(await records_page(visit, ctx))
        endpoint, env = ctx["endpoint"], ctx["environment"]
        ctx["switch"] = {e: link(visit, "endpoint", {"environment": e}, endpoint=endpoint["id"]) for e in ("TEST", "LIVE")}
        if visit.target == "record-table":
            return screens.render(visit, "records/_table.html", ctx)
        now = datetime.now(UTC)
        since = datetime.combine(now.date() - timedelta(days=CHART_DAYS - 1), datetime.min.time(), UTC)
        rows, complete = await recent(visit, endpoint["id"], env, since)
        drawn = chart.records_per_day(rows, ctx["partners"], today=now.date(), days=CHART_DAYS, label=env.capitalize())
        example = snippets.example(endpoint["fields"])
        ctx.update(
            chart=drawn,
            chart_svg=Markup(drawn.svg),  # built by chart.py, which escapes every text
            chart_complete=complete,
            chart_limit=CHART_PAGES * screens.pages.settings.max_page_size,
            snippet=snippets.for_endpoint(screens.pages.settings.base_url, endpoint["id"], example),
            exports={f: link(visit, "records_export", {"environment": env}, endpoint=endpoint["id"], format=f) for f in ("csv", "json")},
        )
        return await screens.page(visit, "records/page.html", ctx)

    async def record_detail(visit: Visit) -> Response:
        ctx = await context(visit)
        record = (await screens.read(visit, "RecordDetail", {"id": visit.request.path_params["record"]}))["record"]
        if record is None or record["endpointId"] != ctx["endpoint"]["id"]:
            raise Refused(404, "Not found", "There is no such page.")
        ctx["environment"] = record["environment"]  # the record's own, whatever the URL says
        names = [f["name"] for f in ctx["endpoint"]["fields"]]
        data = record["data"] or {}
        ctx.update(
            record=record,
            extra=[k for k in data if k not in names],
            back_url=link(visit, "endpoint", {"environment": record["environment"]}, endpoint=record["endpointId"]),
        )
        return await screens.page(visit, "records/detail.html", ctx)

    async def export(visit: Visit) -> Response:
        kind = visit.request.path_params["format"]
        if kind not in ("csv", "json"):
            raise Refused(404, "Not found", "There is no such page.")
        ctx = await context(visit)
        endpoint, env = ctx["endpoint"], ctx["environment"]
        size = screens.pages.settings.max_page_size

        async def fetch(after: str | None) -> dict[str, Any]:
            variables = {"endpoint": endpoint["id"], "environment": env, "first": size, "after": after}
            return (await screens.read(visit, "EndpointRecords", variables))["records"]

        first = await fetch(None)  # before the answer starts, so that a refusal is still an error page

        async def pages() -> AsyncIterator[list[dict[str, Any]]]:
            connection = first
            while True:
                yield [edge["node"] for edge in connection["edges"]]
                if not connection["pageInfo"]["hasNextPage"]:
                    return
                connection = await fetch(connection["pageInfo"]["endCursor"])

        columns = [f["name"] for f in endpoint["fields"]] + list(META_COLUMNS)

        async def as_csv() -> AsyncIterator[str]:
            yield csv_header(columns)
            async for nodes in pages():
                yield csv_lines(columns, nodes)

        async def as_json() -> AsyncIterator[str]:
            yield "["
            separator = "\n"
            async for nodes in pages():
                for node in nodes:
                    yield separator + json_item(node)
                    separator = ",\n"
            yield "\n]\n"

        name = filename(endpoint["name"], env, kind, datetime.now(UTC))
        body, media = (as_csv(), "text/csv; charset=utf-8") if kind == "csv" else (as_json(), "application/json")
        return StreamingResponse(body, media_type=media, headers={"content-disposition": f'attachment; filename="{name}"'})

    base = "/w/{workspace}/endpoints/{endpoint}"
    return [
        screens.route(base, endpoint_page, name="endpoint"),
        screens.route(base + "/records/{record}", record_detail, name="record"),
        screens.route(base + "/export.{format}", export, name="records_export"),
    ]
