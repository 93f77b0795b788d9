"""A key's safety screens: what it really used (the least-privilege advisor, with its dry run and
the reduce button) and the records it wrote in a time window (blast radius, with exports).

Both run the operations of web/operations/checklist_key.graphql. The dry run
is the API's: this module only carries a proposal from the form to the query
and back, and offers "reduce" plainly when the count is 0, or behind an
explicit acceptance when it is not (the API refuses it otherwise, too).
Exports reuse the records screen's CSV / JSON writers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from server.dashboard import records
from server.dashboard.pages import Refused
from server.dashboard.screens import Screens, Visit

OPERATIONS = ["CREATE", "READ", "UPDATE", "DELETE"]
WINDOWS = [7, 30, 90, 400]  # days the advisor offers; usage facts are kept 400 days
PAGE_SIZE = 25
ALL_FIELDS = "*"  # in a form: the proposal leaves every field writable


def _days(visit: Visit) -> int | None:
    """The window asked for, or None for the workspace's own (unusedPermissionDays)."""
    text = visit.request.query_params.get("days") or visit.form.get("days") or ""
    return int(text) if text.isdigit() and 0 < int(text) <= 400 else None


def _proposal(permissions: list[str], fields: list[str] | None) -> dict[str, Any]:
    return {"permissions": [p for p in OPERATIONS if p in permissions], "writableFields": fields}


def _fields_text(fields: list[str] | None) -> str:
    return ALL_FIELDS if fields is None else ",".join(fields)


def _fields_of(text: str) -> list[str] | None:
    return None if text == ALL_FIELDS else [f for f in text.split(",") if f]


def narrower(key: dict[str, Any], proposal: dict[str, Any], endpoint_fields: list[str]) -> bool:
    """Whether the proposal takes anything away from the key (else there is nothing to reduce)."""
    writable = set(endpoint_fields if key["writableFields"] is None else key["writableFields"])
    proposed = set(endpoint_fields if proposal["writableFields"] is None else proposal["writableFields"])
    return set(proposal["permissions"]) < set(key["permissions"]) or proposed < writable


def _day_start(text: str) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(text), time.min, UTC)
    except ValueError:
        return None


def window(visit: Visit) -> tuple[dict[str, str], datetime | None, datetime | None]:
    """The blast radius' window from the URL: days, both ends included; the `until` day counts whole."""
    query = visit.request.query_params
    chosen = {name: query.get(name, "") for name in ("since", "until")}
    since = _day_start(chosen["since"]) if chosen["since"] else None
    until_day = _day_start(chosen["until"]) if chosen["until"] else None
    if (chosen["since"] and since is None) or (chosen["until"] and until_day is None):
        raise Refused(400, "Not possible", "Dates are written like 2026-11-30.")
    return chosen, since, until_day + timedelta(days=1) if until_day else None


def routes(screens: Screens) -> list[Route]:
    async def usage(visit: Visit) -> Response:
        key_id = visit.request.path_params["key"]
        report = (await screens.read(visit, "KeyUsage", {"id": key_id, "days": _days(visit)}))["keyUsage"]
        key = report["key"]
        endpoint_fields = [f["name"] for f in key["endpoint"]["fields"]]
        query = visit.request.query_params
        proposal, dry_run = report["suggestion"], report["suggestionDryRun"]
        tried = "try" in query
        if tried:
            # A proposal of one's own: the operations and fields ticked on the form.
            proposal = _proposal(query.getlist("op"), query.getlist("field") if query.get("fields") != "all" else None)
            variables = {"id": key_id, "days": report["days"], "proposal": proposal}
            outcome = await screens.run(visit, "KeyDryRun", variables)
            if outcome.errors:
                return await screens.refused(visit, outcome)
            dry_run = outcome.data["keyDryRun"]
        context = {
            "report": report,
            "key": key,
            "endpoint_fields": endpoint_fields,
            "proposal": proposal,
            "dry_run": dry_run,
            "tried": tried,
            "narrower": narrower(key, proposal, endpoint_fields),
            "windows": sorted({*WINDOWS, report["days"]}),
            "apply": {"permissions": ",".join(proposal["permissions"]), "writableFields": _fields_text(proposal["writableFields"]), "days": str(report["days"])},
            "done": "Permissions reduced. The audit log has the change." if query.get("reduced") else None,
        }
        return await screens.page(visit, "checklist/key_usage.html", context)

    async def reduce(visit: Visit) -> Response:
        key_id = visit.request.path_params["key"]
        form = visit.form
        variables = {
            "id": key_id,
            "days": _days(visit),
            "to": _proposal(form.get("permissions", "").split(","), _fields_of(form.get("writableFields", ALL_FIELDS))),
            # Only what the person ticked: never accepted on their behalf.
            "acceptRefusals": form.get("accept") == "yes",
        }
        outcome = await screens.run(visit, "ReduceKeyPermissions", variables)
        if outcome.errors:
            return await screens.refused(visit, outcome)
        response = screens.redirect(visit, "key_usage", key=key_id)
        response.headers["location"] += "?" + urlencode({"reduced": "1", **({"days": str(variables["days"])} if variables["days"] else {})})
        return response

    async def blast(visit: Visit, since: datetime | None, until: datetime | None, first: int, after: str | None) -> dict[str, Any]:
        variables = {
            "id": visit.request.path_params["key"],
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "first": first,
            "after": after,
        }
        return await screens.read(visit, "BlastRadius", variables)

    async def written(visit: Visit) -> Response:
        chosen, since, until = window(visit)
        after = visit.request.query_params.get("after") or None
        data = await blast(visit, since, until, PAGE_SIZE, after)
        key, connection = data["key"], data["blastRadius"]
        here = {name: value for name, value in chosen.items() if value}

        def link(name: str, query: dict[str, str], **params: str) -> str:
            path = visit.request.url_for(name, workspace=visit.workspace_id, key=key["id"], **params).path
            return path + ("?" + urlencode(query) if query else "")

        more = connection["pageInfo"]["hasNextPage"] and connection["edges"]
        context = {
            "key": key,
            "records": [edge["node"] for edge in connection["edges"]],
            "columns": [f["name"] for f in key["endpoint"]["fields"]][:4],
            "shown": records.shown,
            "chosen": chosen,
            "older_url": link("key_records", {**here, "after": connection["pageInfo"]["endCursor"]}) if more else None,
            "newest_url": link("key_records", here) if after else None,
            "exports": {kind: link("key_records_export", here, format=kind) for kind in ("csv", "json")},
        }
        return await screens.page(visit, "checklist/key_records.html", context)

    async def export(visit: Visit) -> Response:
        kind = visit.request.path_params["format"]
        if kind not in ("csv", "json"):
            raise Refused(404, "Not found", "There is no such page.")
        _, since, until = window(visit)
        size = screens.pages.settings.max_page_size
        first = await blast(visit, since, until, size, None)  # before the answer starts: a refusal is still an error page
        key = first["key"]

        async def pages() -> AsyncIterator[list[dict[str, Any]]]:
            connection = first["blastRadius"]
            while True:
                yield [edge["node"] for edge in connection["edges"]]
                if not connection["pageInfo"]["hasNextPage"]:
                    return
                connection = (await blast(visit, since, until, size, connection["pageInfo"]["endCursor"]))["blastRadius"]

        columns = [f["name"] for f in key["endpoint"]["fields"]] + list(records.META_COLUMNS)

        async def as_csv() -> AsyncIterator[str]:
            yield records.csv_header(columns)
            async for nodes in pages():
                yield records.csv_lines(columns, nodes)

        async def as_json() -> AsyncIterator[str]:
            yield "["
            separator = "\n"
            async for nodes in pages():
                for node in nodes:
                    yield separator + records.json_item(node)
                    separator = ",\n"
            yield "\n]\n"

        name = records.filename(f"{key['endpoint']['name']}-written-by-{key['id']}", key["environment"], kind, datetime.now(UTC))
        body, media = (as_csv(), "text/csv; charset=utf-8") if kind == "csv" else (as_json(), "application/json")
        return StreamingResponse(body, media_type=media, headers={"content-disposition": f'attachment; filename="{name}"'})

    base = "/w/{workspace}/keys/{key}"
    return [
        screens.route(base + "/usage", usage, name="key_usage"),
        screens.route(base + "/reduce", reduce, name="key_reduce", method="POST"),
        screens.route(base + "/records", written, name="key_records"),
        screens.route(base + "/records.{format}", export, name="key_records_export"),
    ]
