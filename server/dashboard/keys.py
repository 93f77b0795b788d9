"""The keys screen: list with filters, issue (reveal once or claim link), switch, roll, delete.

Handlers turn the form into the variables of an operation in
web/operations/keys.graphql and render what comes back; every rule (roles,
fields, grace periods) is the API's. Deactivate / reactivate answer htmx with
just the key's row.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from server.dashboard import snippets
from server.dashboard.pages import Refused
from server.dashboard.screens import Screens, Visit

FILTERS = ("partner", "endpoint", "environment", "status")
GRACES = [("NONE", "No grace: the old key stops now"), ("ONE_HOUR", "1 hour"), ("ONE_DAY", "24 hours"), ("SEVEN_DAYS", "7 days")]
PERMISSIONS = ["CREATE", "READ", "UPDATE", "DELETE"]


def _names(text: str) -> list[str] | None:
    """A comma-separated list of field names; empty means every field (None)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    return names or None


def _expiry(text: str) -> str | None:
    """A date from the form as the end of that day, UTC."""
    if not text:
        return None
    try:
        day = datetime.fromisoformat(text).date()
    except ValueError:
        return text  # the API answers with a clear message about expiresAt
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC).isoformat()


def issue_input(workspace_id: str, form: dict[str, str], permissions: list[str]) -> dict[str, Any]:
    return {
        "workspace": workspace_id,
        "partner": form.get("partner", ""),
        "endpoint": form.get("endpoint", ""),
        "environment": form.get("environment", "TEST"),
        "permissions": permissions,
        "readableFields": _names(form.get("readableFields", "")),
        "writableFields": _names(form.get("writableFields", "")),
        "rowScope": form.get("rowScope", "ALL"),
        "expiresAt": _expiry(form.get("expiresAt", "")),
        "handover": form.get("handover", "CLAIM"),
    }


def routes(screens: Screens) -> list[Route]:
    async def key_list(visit: Visit) -> Response:
        chosen = {name: visit.request.query_params.get(name) or None for name in FILTERS}
        data = await screens.read(visit, "Keys", {"workspace": visit.workspace_id, **chosen})
        context = {"workspace": data["workspace"], "keys": data["workspace"]["keys"], "chosen": chosen}
        if visit.target == "key-table":
            return screens.render(visit, "keys/_table.html", context)
        return await screens.page(visit, "keys/list.html", context)

    async def issue_form(visit: Visit) -> Response:
        data = await screens.read(visit, "IssueChoices", {"workspace": visit.workspace_id})
        # Links from a partner's or an endpoint's page pre-select it.
        chosen = {name: visit.request.query_params[name] for name in ("partner", "endpoint", "environment") if visit.request.query_params.get(name)}
        form = {"handover": "CLAIM", "environment": "TEST", **chosen}
        return await screens.page(visit, "keys/issue.html", {"choices": data["workspace"], "form": form, "errors": {}})

    async def issue(visit: Visit) -> Response:
        form = visit.form
        permissions = [p for p in PERMISSIONS if form.get(f"permission-{p}")]
        outcome = await screens.run(visit, "IssueKey", {"input": issue_input(visit.workspace_id, form, permissions)})
        if outcome.errors:
            data = await screens.read(visit, "IssueChoices", {"workspace": visit.workspace_id})
            form = {**form, "permissions": permissions}
            return await screens.page(visit, "keys/issue.html", {"choices": data["workspace"], "form": form, "errors": outcome.field_errors}, 422)
        issued = outcome.data["issueKey"]
        return await screens.page(visit, "keys/issued.html", {"issued": issued, "key": issued["key"]})

    async def detail(visit: Visit) -> Response:
        key = (await screens.read(visit, "Key", {"id": visit.request.path_params["key"]}))["key"]
        data = snippets.example(key["endpoint"]["fields"], key["writableFields"])
        snippet = snippets.for_endpoint(screens.pages.settings.base_url, key["endpoint"]["id"], data)
        return await screens.page(visit, "keys/detail.html", {"key": key, "graces": GRACES, "snippet": snippet})

    def switch(operation: str) -> Any:
        async def handler(visit: Visit) -> Response:
            key_id = visit.request.path_params["key"]
            outcome = await screens.run(visit, operation, {"id": key_id})
            if outcome.errors:
                return await screens.refused(visit, outcome)
            key = next(iter(outcome.data.values()))
            if visit.htmx:
                return screens.render(visit, "keys/_row.html", {"key": key})
            return screens.redirect(visit, "keys")

        return handler

    async def roll(visit: Visit) -> Response:
        key_id = visit.request.path_params["key"]
        outcome = await screens.run(visit, "RollKey", {"id": key_id, "grace": visit.form.get("grace", "")})
        if outcome.errors:
            return await screens.refused(visit, outcome)
        rolled = outcome.data["rollKey"]
        return await screens.page(visit, "keys/issued.html", {"issued": rolled, "key": rolled["key"], "rolled": True})

    async def new_claim_link(visit: Visit) -> Response:
        outcome = await screens.run(visit, "CreateClaimLink", {"id": visit.request.path_params["key"]})
        if outcome.errors:
            return await screens.refused(visit, outcome)
        created = outcome.data["createClaimLink"]
        return await screens.page(visit, "keys/issued.html", {"issued": created, "key": created["key"]})

    async def delete(visit: Visit) -> Response:
        if not visit.htmx and visit.form.get("confirm") != "yes":
            raise Refused(422, "Not deleted", "Tick the box to confirm that the key should be deleted for good.")
        outcome = await screens.run(visit, "DeleteKey", {"id": visit.request.path_params["key"]})
        if outcome.errors:
            return await screens.refused(visit, outcome)
        if visit.htmx:
            return Response("", status_code=200)  # the row swaps itself out
        return screens.redirect(visit, "keys")

    base = "/w/{workspace}/keys"
    return [
        screens.route(base, key_list, name="keys"),
        screens.route(base + "/new", issue_form, name="key_new"),
        screens.route(base, issue, name="key_issue", method="POST"),
        screens.route(base + "/{key}", detail, name="key"),
        screens.route(base + "/{key}/deactivate", switch("DeactivateKey"), name="key_deactivate", method="POST"),
        screens.route(base + "/{key}/reactivate", switch("ReactivateKey"), name="key_reactivate", method="POST"),
        screens.route(base + "/{key}/roll", roll, name="key_roll", method="POST"),
        screens.route(base + "/{key}/claim-link", new_claim_link, name="key_claim_link", method="POST"),
        screens.route(base + "/{key}/delete", delete, name="key_delete", method="POST"),
    ]

