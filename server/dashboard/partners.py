"""The partners screens: list with key counts, create, rename, archive; a partner's keys and activity.

Handlers run the operations of web/operations/partners.graphql; who may
change what is the API's rule (ADMIN), the templates only leave out buttons
a role cannot use. htmx gets the part that changed: the list after a create, the
partner (heading, keys, activity) after a rename or archiving;
forms without htmx get the same pages in full (or a redirect after success).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from starlette.responses import Response
from starlette.routing import Route

from server.dashboard.audit import Names, entries
from server.dashboard.pages import Outcome, Refused
from server.dashboard.screens import Screens, Visit

ACTIVITY = 20  # events on a partner's page; the audit log has the rest


def counts(workspace: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per partner id: its keys, and how many of them are active."""
    total = Counter(k["partner"]["id"] for k in workspace["keys"])
    active = Counter(k["partner"]["id"] for k in workspace["keys"] if k["status"] == "ACTIVE")
    return {partner: {"total": n, "active": active[partner]} for partner, n in total.items()}


def routes(screens: Screens) -> list[Route]:
    async def listing(visit: Visit, form: dict[str, str], errors: dict[str, str], created: dict[str, Any] | None = None) -> dict[str, Any]:
        workspace = (await screens.read(visit, "PartnerList", {"workspace": visit.workspace_id}))["workspace"]
        partners = workspace["partners"]
        return {
            "current": [p for p in partners if not p["archivedAt"]],
            "archived": [p for p in partners if p["archivedAt"]],
            "counts": counts(workspace),
            "form": form,
            "errors": errors,
            "created": created,
        }

    async def partner_list(visit: Visit) -> Response:
        return await screens.page(visit, "partners/list.html", await listing(visit, {}, {}))

    async def create(visit: Visit) -> Response:
        name = visit.form.get("name", "")
        outcome = await screens.run(visit, "CreatePartner", {"workspace": visit.workspace_id, "name": name})
        if outcome.errors and not outcome.field_errors.get("name"):
            return await screens.refused(visit, outcome)  # not about the name: a role, most likely
        if outcome.errors:
            context = await listing(visit, {"name": name}, outcome.field_errors)
            if visit.htmx:
                return screens.render(visit, "partners/_partners.html", context, 422)
            return await screens.page(visit, "partners/list.html", context, 422)
        created = outcome.data["createPartner"]
        if visit.htmx:
            return screens.render(visit, "partners/_partners.html", await listing(visit, {}, {}, created))
        return screens.redirect(visit, "partner", partner=created["id"])

    async def page_data(visit: Visit) -> dict[str, Any]:
        partner_id = visit.request.path_params["partner"]
        variables = {"workspace": visit.workspace_id, "partner": partner_id, "first": ACTIVITY}
        workspace = (await screens.read(visit, "PartnerPage", variables))["workspace"]
        partner = next((p for p in workspace["partners"] if p["id"] == partner_id), None)
        if partner is None:
            raise Refused(404, "Not found", "There is no such page.")
        names = Names.of(workspace)
        activity = workspace["auditEvents"]
        return {
            "partner": partner,
            "keys": workspace["keys"],
            "names": names,
            "events": entries(activity["edges"], names),
            "more_activity": activity["pageInfo"]["hasNextPage"],
            "form": {"name": partner["name"]},
            "errors": {},
        }

    async def detail(visit: Visit) -> Response:
        return await screens.page(visit, "partners/detail.html", await page_data(visit))

    async def rename(visit: Visit) -> Response:
        partner_id = visit.request.path_params["partner"]
        name = visit.form.get("name", "")
        outcome = await screens.run(visit, "RenamePartner", {"id": partner_id, "name": name})
        if outcome.errors and not outcome.field_errors.get("name"):
            return await screens.refused(visit, outcome)
        if not outcome.errors and not visit.htmx:
            return screens.redirect(visit, "partner", partner=partner_id)
        context = await page_data(visit)
        if outcome.errors:
            context |= {"form": {"name": name}, "errors": outcome.field_errors}
        else:
            context["renamed"] = True
        status = 422 if outcome.errors else 200
        if visit.htmx:
            return screens.render(visit, "partners/_partner.html", context, status)
        return await screens.page(visit, "partners/detail.html", context, status)

    async def archive(visit: Visit) -> Response:
        partner_id = visit.request.path_params["partner"]
        if visit.form.get("confirm") != "yes":
            unconfirmed = {"message": "Confirm that the partner should be archived: its keys stop working.", "extensions": {"code": "VALIDATION_FAILED"}}
            return await screens.refused(visit, Outcome(None, [unconfirmed], ""))
        outcome = await screens.run(visit, "ArchivePartner", {"id": partner_id})
        if outcome.errors:
            return await screens.refused(visit, outcome)
        if visit.htmx:
            return screens.render(visit, "partners/_partner.html", await page_data(visit))
        return screens.redirect(visit, "partner", partner=partner_id)

    base = "/w/{workspace}/partners"
    return [
        screens.route(base, partner_list, name="partners"),
        screens.route(base, create, name="partner_create", method="POST"),
        screens.route(base + "/{partner}", detail, name="partner"),
        screens.route(base + "/{partner}/rename", rename, name="partner_rename", method="POST"),
        screens.route(base + "/{partner}/archive", archive, name="partner_archive", method="POST"),
    ]
