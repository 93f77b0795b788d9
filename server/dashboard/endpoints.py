"""The endpoints screen: list, create and edit (name and a fields editor), archive.

Handlers turn the form into the variables of an operation in
web/operations/endpoints.graphql; the rules (OWNER only, valid names, limits
that fit the type) are the API's, and its VALIDATION_FAILED answer is shown
next to the field row it names. The fields editor works without script:
"Add field" and "Remove" post the form back with one row more or less; with
htmx, "Add field" fetches just one more row.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from server.dashboard.pages import Outcome, Refused
from server.dashboard.screens import Screens, Visit
from server.policy import Role

TYPES = ("STRING", "INTEGER", "NUMBER", "BOOLEAN", "DATETIME", "EMAIL", "URL", "JSON")
ROW_INPUT = re.compile(r"row-([A-Za-z0-9]{1,16})-(name|type|required|min|max)")
NOT_SAVED = "Not saved: correct what is marked below."
ONLY_OWNERS = "Only an owner of this workspace can create or change endpoints."


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the fields editor, as typed (limits stay text until sent)."""

    key: str  # tells the inputs of one row apart; random, so htmx can add rows without counting
    name: str = ""
    type: str = "STRING"
    required: bool = False
    min: str = ""
    max: str = ""

    @property
    def blank(self) -> bool:
        return not (self.name.strip() or self.min.strip() or self.max.strip())


def new_row() -> Row:
    return Row(secrets.token_hex(4))


def rows_from_form(form: dict[str, str]) -> list[Row]:
    """The editor's rows in the order the browser sent them."""
    found: dict[str, dict[str, Any]] = {}
    for name, value in form.items():
        match = ROW_INPUT.fullmatch(name)
        if match:
            key, part = match.groups()
            found.setdefault(key, {})[part] = value == "1" if part == "required" else value
    return [Row(key, **parts) for key, parts in found.items()]


def rows_from_fields(fields: list[dict[str, Any]]) -> list[Row]:
    rows = []
    for field in fields:
        low, high = (field["minLength"], field["maxLength"]) if field["type"] == "STRING" else (field["min"], field["max"])
        rows.append(Row(secrets.token_hex(4), field["name"], field["type"], field["required"], _text(low), _text(high)))
    return rows


def _text(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def field_inputs(rows: list[Row]) -> tuple[list[dict[str, Any]], list[Row], dict[str, str]]:
    """FieldInput values for the API, the rows they came from, and limits that are not numbers.

    Min and max mean a length for STRING and a value for INTEGER / NUMBER; given
    for another type they are sent as min / max, and the API says why not.
    """
    inputs, sent, problems = [], [], {}
    for row in rows:
        if row.blank:
            continue  # an empty row left over from "Add field" is not a field
        item: dict[str, Any] = {"name": row.name.strip(), "type": row.type, "required": row.required}
        names = ("minLength", "maxLength") if row.type == "STRING" else ("min", "max")
        for name, text in zip(names, (row.min.strip(), row.max.strip()), strict=True):
            if not text:
                continue
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if not math.isfinite(number) or (row.type == "STRING" and not number.is_integer()):
                problems[f"row:{row.key}"] = "Min and max must be " + ("whole numbers (a length)" if row.type == "STRING" else "numbers")
                break
            item[name] = int(number) if row.type == "STRING" else number
        inputs.append(item)
        sent.append(row)
    return inputs, sent, problems


def place_errors(outcome: Outcome, sent: list[Row]) -> dict[str, str]:
    """The API's reasons, keyed for the template: `name`, `fields`, `row:<key>` or `_form`.

    The API names a field definition by its position (`fields[2]`) or by its
    name; the endpoint's own name is `name`, so a field called "name" is told
    apart by the message that comes with field problems.
    """
    placed: dict[str, str] = {}
    for error in outcome.errors:
        about_fields = error["message"].startswith("Some field definitions")
        for where, why in (error.get("extensions", {}).get("fields") or {}).items():
            position = re.fullmatch(r"fields\[(\d+)\]", where)
            named = [row for row in sent if row.name.strip() == where]
            if position and int(position.group(1)) < len(sent):
                placed[f"row:{sent[int(position.group(1))].key}"] = why
            elif named and (where != "name" or about_fields):
                # "is defined twice" concerns the later rows of that name
                for row in named[1:] if why == "is defined twice" else named:
                    placed[f"row:{row.key}"] = f"{where} {why}" if why == "is defined twice" else why
            elif where in ("name", "fields"):
                placed[where] = why
            else:
                placed.setdefault("_form", f"{where} {why}")
        if not error.get("extensions", {}).get("fields"):
            placed.setdefault("_form", error["message"])
    if "_form" not in placed:
        placed["_form"] = NOT_SAVED
    return placed


def summary(field: dict[str, Any]) -> str:
    """'string, required, 1–50 characters' for the list."""
    parts = [field["type"].lower()]
    if field["required"]:
        parts.append("required")
    low, high = (field["minLength"], field["maxLength"]) if field["type"] == "STRING" else (field["min"], field["max"])
    unit = " characters" if field["type"] == "STRING" else ""
    if low is not None and high is not None:
        parts.append(f"{_text(low)}–{_text(high)}{unit}")
    elif low is not None:
        parts.append(f"≥ {_text(low)}{unit}")
    elif high is not None:
        parts.append(f"≤ {_text(high)}{unit}")
    return ", ".join(parts)


def routes(screens: Screens) -> list[Route]:
    async def endpoint_list(visit: Visit) -> Response:
        archived = visit.request.query_params.get("archived") == "1"
        data = await screens.read(visit, "EndpointList", {"workspace": visit.workspace_id, "includeArchived": archived})
        context = {"endpoints": data["workspace"]["endpoints"], "archived": archived, "summary": summary}
        if visit.target == "endpoint-table":
            return screens.render(visit, "endpoints/_table.html", context)
        return await screens.page(visit, "endpoints/list.html", context)

    async def editor(visit: Visit, endpoint: dict[str, Any] | None, name: str, rows: list[Row], errors: dict[str, str], status: int = 200) -> Response:
        context = {"endpoint": endpoint, "name": name, "rows": rows or [new_row()], "errors": errors, "types": TYPES, "focus": None}
        if visit.form.get("add"):
            context["focus"] = rows[-1].key
        return await screens.page(visit, "endpoints/form.html", context, status)

    def owners_only(visit: Visit) -> None:
        # The API would refuse the change anyway; this spares a form that cannot be sent.
        if not visit.can(Role.OWNER):
            raise Refused(403, "Read only", ONLY_OWNERS)

    async def new_form(visit: Visit) -> Response:
        owners_only(visit)
        return await editor(visit, None, "", [new_row()], {})

    async def field_row(visit: Visit) -> Response:
        return screens.render(visit, "endpoints/_field_row.html", {"row": new_row(), "types": TYPES, "errors": {}, "focus": True})

    async def save(visit: Visit, endpoint: dict[str, Any] | None) -> Response:
        form, rows = visit.form, rows_from_form(visit.form)
        name = form.get("name", "")
        if form.get("add"):
            return await editor(visit, endpoint, name, [*rows, new_row()], {})
        if form.get("remove"):
            return await editor(visit, endpoint, name, [row for row in rows if row.key != form["remove"]], {})
        inputs, sent, problems = field_inputs(rows)
        if problems:
            return await editor(visit, endpoint, name, rows, {"_form": NOT_SAVED, **problems}, 422)
        if endpoint is None:
            outcome = await screens.run(visit, "CreateEndpoint", {"workspace": visit.workspace_id, "name": name, "fields": inputs})
        else:
            outcome = await screens.run(visit, "UpdateEndpoint", {"id": endpoint["id"], "name": name, "fields": inputs})
        if outcome.errors:
            code = outcome.errors[0].get("extensions", {}).get("code")
            if code != "VALIDATION_FAILED":
                return await screens.refused(visit, outcome)
            return await editor(visit, endpoint, name, rows, place_errors(outcome, sent), 422)
        saved = next(iter(outcome.data.values()))
        return screens.redirect(visit, "endpoint", endpoint=saved["id"])

    async def create(visit: Visit) -> Response:
        return await save(visit, None)

    async def find(visit: Visit) -> dict[str, Any]:
        data = await screens.read(visit, "EndpointList", {"workspace": visit.workspace_id, "includeArchived": True})
        wanted = visit.request.path_params["endpoint"]
        for endpoint in data["workspace"]["endpoints"]:
            if endpoint["id"] == wanted:
                return endpoint
        raise Refused(404, "Not found", "There is no such page.")

    async def edit_form(visit: Visit) -> Response:
        endpoint = await find(visit)
        owners_only(visit)
        return await editor(visit, endpoint, endpoint["name"], rows_from_fields(endpoint["fields"]), {})

    async def update(visit: Visit) -> Response:
        return await save(visit, await find(visit))

    async def archive(visit: Visit) -> Response:
        endpoint = await find(visit)
        if visit.form.get("confirm") != "yes":
            errors = {"confirm": "Tick the box to confirm: the endpoint's keys stop working at once."}
            return await editor(visit, endpoint, endpoint["name"], rows_from_fields(endpoint["fields"]), errors, 422)
        outcome = await screens.run(visit, "ArchiveEndpoint", {"id": endpoint["id"]})
        if outcome.errors:
            return await screens.refused(visit, outcome)
        return screens.redirect(visit, "endpoints")

    base = "/w/{workspace}/endpoints"
    return [
        screens.route(base, endpoint_list, name="endpoints"),
        screens.route(base + "/new", new_form, name="endpoint_new"),
        screens.route(base + "/new/field", field_row, name="endpoint_field_row"),
        screens.route(base, create, name="endpoint_create", method="POST"),
        screens.route(base + "/{endpoint}/edit", edit_form, name="endpoint_edit"),
        screens.route(base + "/{endpoint}/edit", update, name="endpoint_update", method="POST"),
        screens.route(base + "/{endpoint}/archive", archive, name="endpoint_archive", method="POST"),
    ]

