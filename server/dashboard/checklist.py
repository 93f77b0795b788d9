"""The safety checklist screen: each question as a card with the keys concerned and their fixes,
the open-findings badge of the navigation, and the safety settings (thresholds, idle-key policy).

Everything comes from the operations of web/operations/checklist.graphql: the
findings, their evidence and which fixes each offers are the API's; this
module only turns a fix into a button (or a link to the screen that applies
it) and says in plain words what each question means. A fix answers htmx with
all the cards (one fix can clear a key from several questions) and the badge
out of band; a plain form gets a redirect back to the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from server.dashboard.pages import Outcome
from server.dashboard.screens import Screens, Visit


@dataclass(frozen=True, slots=True)
class Question:
    slug: str  # in URLs and element ids
    why: str  # what a finding means, and what to do about it
    informational: bool = False  # lists keys but asks nothing of anyone


QUESTIONS = {
    "LEAKED_KEYS": Question(
        "leaked-keys",
        "Keys reported in public (for example by GitHub secret scanning) are deactivated at once. Review what they wrote while they were out there.",
    ),
    "SHARED_KEYS": Question(
        "shared-keys",
        "A key used from more distinct places in one day than the threshold below looks shared between people or machines. "
        "Give each its own key, so every record says who sent it.",
    ),
    "TEST_BEFORE_LIVE": Question(
        "test-before-live",
        "A partner with a live key on an endpoint where they never had a test key tried their integration on real data. Give them a test key.",
    ),
    "PLAIN_TEXT_HANDOVER": Question(
        "plain-text-handover",
        "A key shown on screen may have travelled by mail or chat. A one-time claim link lets the partner take it without anyone here seeing it.",
    ),
    "UNUSED_KEYS": Question(
        "unused-keys",
        "An active key nobody uses is a door left open. Deactivate it; you can reactivate it in a click if it turns out to be needed.",
    ),
    "EXCESS_PERMISSIONS": Question(
        "excess-permissions",
        "Operations or fields a key may use but never did are risk without benefit. Reduce the key to what it really used, after a dry run on its past requests.",
    ),
    "IDLE_DEACTIVATED": Question(
        "idle-deactivated",
        "Keys the idle-key policy switched off because nobody used them. Nothing to do unless one is still needed.",
        informational=True,
    ),
}
UNKNOWN = Question("other", "")

THRESHOLDS = [
    ("sharedKeyClients", "Shared key above (clients a day)", "A client is a network (/24 or /64) plus a user agent."),
    ("unusedKeyDays", "Unused key after (days)", "Without a request; a key never used counts after 7 days."),
    ("unusedPermissionDays", "Unneeded permission after (days)", "Without use; also the advisor's window."),
]
SETTING_NAMES = [name for name, _, _ in THRESHOLDS] + ["idleKeyDays"]
GRACE = "ONE_DAY"  # a revealed secret replaced by a claim link keeps working this long


def _camel(name: str) -> str:
    """The API may name a field in its own words (shared_key_clients): the form's are camelCase."""
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def fix_buttons(visit: Visit, finding: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A finding's fixes as (buttons behind a confirmation, links to the screen that applies them)."""
    key = finding["key"]
    url = visit.request.url_for
    ws = visit.workspace_id
    display = key["display"]
    buttons: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    for fix in finding["fixes"]:
        if fix == "DEACTIVATE":
            buttons.append({
                "label": "Deactivate", "yes": "Yes, deactivate", "danger": True, "htmx": True,
                "action": url("checklist_deactivate", workspace=ws, key=key["id"]).path,
                "explain": f"{display} stops working on its very next request. It is not deleted: you can reactivate it later.",
            })
        elif fix == "REACTIVATE":
            buttons.append({
                "label": "Reactivate", "yes": "Yes, reactivate", "danger": False, "htmx": True,
                "action": url("checklist_reactivate", workspace=ws, key=key["id"]).path,
                "explain": f"{display} works again from its very next request.",
            })
        elif fix == "REPLACE_WITH_CLAIM_LINK":
            buttons.append({
                "label": "Hand over by link", "yes": "Yes, make a claim link", "danger": True, "htmx": False,
                "action": url("checklist_replace", workspace=ws, key=key["id"]).path,
                "explain": f"You get a one-time link to send to {key['partner']['name']}; they claim a new secret through it. "
                "The secret shown on screen keeps working for 24 hours, then stops.",
            })
        elif fix == "SEND_CLAIM_LINK":
            buttons.append({
                "label": "Send a new claim link", "yes": "Yes, make a new link", "danger": False, "htmx": False,
                "action": url("key_claim_link", workspace=ws, key=key["id"]).path,
                "explain": f"Earlier links for {display} stop working; you get a new one-time link to send to {key['partner']['name']}.",
            })
        elif fix == "REDUCE_PERMISSIONS":
            links.append({"label": "Review and reduce", "url": url("key_usage", workspace=ws, key=key["id"]).path, "admin": False})
        elif fix == "ISSUE_TEST_KEY":
            query = urlencode({"partner": key["partner"]["id"], "endpoint": key["endpoint"]["id"], "environment": "TEST"})
            links.append({"label": "Issue a test key", "url": url("key_new", workspace=ws).path + "?" + query, "admin": True})
        elif fix == "REVIEW_BLAST_RADIUS":
            links.append({"label": "Records it wrote", "url": url("key_records", workspace=ws, key=key["id"]).path, "admin": False})
    return buttons, links


def view(visit: Visit, checklist: dict[str, Any]) -> dict[str, Any]:
    """The checklist as the cards show it: a question's words, its findings with buttons and links."""
    items = []
    for item in checklist["items"]:
        question = QUESTIONS.get(item["kind"], UNKNOWN)
        if question.informational and not item["findings"]:
            continue  # nothing switched off: no card for it
        findings = []
        for finding in item["findings"]:
            buttons, links = fix_buttons(visit, finding)
            findings.append({**finding, "buttons": buttons, "links": links})
        open_ids = [f["key"]["id"] for f in item["findings"] if f["open"] and "DEACTIVATE" in f["fixes"]]
        fix_all = None
        if len(open_ids) > 1:
            fix_all = {
                "label": f"Deactivate all {len(open_ids)}", "yes": f"Yes, deactivate these {len(open_ids)} keys", "danger": True, "htmx": True,
                "action": visit.request.url_for("checklist_deactivate_all", workspace=visit.workspace_id).path,
                "fields": {"ids": ",".join(open_ids)},
                "explain": f"The {len(open_ids)} keys listed here stop working on their very next request. None is deleted: each can be reactivated later.",
            }
        items.append({
            "kind": item["kind"], "slug": question.slug, "title": item["question"], "why": question.why,
            "informational": question.informational, "open_count": item["openCount"], "findings": findings, "fix_all": fix_all,
        })
    return {
        "open_count": checklist["openCount"],
        "open_questions": sum(1 for i in items if i["open_count"]),
        "generated_at": checklist["generatedAt"],
        "items": items,
    }


def settings_form(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings as the form shows them: the idle policy as a switch plus its days."""
    form = {name: str(settings[name]) for name, _, _ in THRESHOLDS}
    form["idle"] = settings["idleKeyDays"] is not None
    form["idleKeyDays"] = str(settings["idleKeyDays"] or 90)
    return form


def settings_input(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The mutation's input from the form, or why a field is not a whole number."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    idle = form.get("idle") == "on"
    for name in SETTING_NAMES:
        text = form.get(name, "").strip()
        if name == "idleKeyDays" and not idle:
            values[name] = None
            continue
        try:
            values[name] = int(text)
        except ValueError:
            errors[name] = "must be a whole number of " + ("clients" if name == "sharedKeyClients" else "days")
    return values, errors


def routes(screens: Screens) -> list[Route]:
    async def checklist_data(visit: Visit) -> dict[str, Any]:
        return (await screens.read(visit, "Checklist", {"workspace": visit.workspace_id}))["workspace"]["checklist"]

    async def full_page(visit: Visit, *, form: dict[str, Any] | None = None, errors: dict[str, str] | None = None, status: int = 200) -> Response:
        checklist = await checklist_data(visit)
        context = {
            "checklist": view(visit, checklist),
            "open_count": checklist["openCount"],
            "settings": form or settings_form(checklist["settings"]),
            "settings_errors": errors or {},
            "threshold_fields": THRESHOLDS,
            "saved": visit.request.query_params.get("saved") == "settings" and not errors,
        }
        return await screens.page(visit, "checklist/page.html", context, status)

    async def page(visit: Visit) -> Response:
        if visit.target == "checks":
            return await cards(visit)
        return await full_page(visit)

    async def cards(visit: Visit, done: str | None = None) -> Response:
        checklist = await checklist_data(visit)
        context = {"checklist": view(visit, checklist), "open_count": checklist["openCount"], "badge_oob": True, "done": done}
        return screens.render(visit, "checklist/_checks.html", context)

    async def badge(visit: Visit) -> Response:
        data = await screens.read(visit, "ChecklistBadge", {"workspace": visit.workspace_id})
        return screens.render(visit, "checklist/_badge_count.html", {"open_count": data["workspace"]["checklist"]["openCount"]})

    async def unconfirmed(visit: Visit) -> Response:
        refusal = {"message": "Confirm the fix first: open it and press the button that says what it does.", "extensions": {"code": "VALIDATION_FAILED"}}
        return await screens.refused(visit, Outcome(None, [refusal], ""))

    async def apply(visit: Visit, operation: str, variables: dict[str, Any], done: str) -> Response:
        """Run one fix, then show every card again (htmx) or go back to the page."""
        if visit.form.get("confirm") != "yes":
            return await unconfirmed(visit)
        outcome = await screens.run(visit, operation, variables)
        if outcome.errors:
            return await screens.refused(visit, outcome)
        if visit.htmx:
            return await cards(visit, done.format(**_first_key(outcome)))
        return screens.redirect(visit, "checklist")

    async def deactivate(visit: Visit) -> Response:
        return await apply(visit, "ChecklistDeactivate", {"id": visit.request.path_params["key"]}, "{display} is deactivated.")

    async def reactivate(visit: Visit) -> Response:
        return await apply(visit, "ChecklistReactivate", {"id": visit.request.path_params["key"]}, "{display} works again.")

    async def deactivate_all(visit: Visit) -> Response:
        ids = [i for i in visit.form.get("ids", "").split(",") if i]
        return await apply(visit, "ChecklistDeactivateAll", {"ids": ids}, f"{len(ids)} keys are deactivated.")

    async def replace(visit: Visit) -> Response:
        if visit.form.get("confirm") != "yes":
            return await unconfirmed(visit)
        outcome = await screens.run(visit, "ReplaceWithClaimLink", {"id": visit.request.path_params["key"], "grace": GRACE})
        if outcome.errors:
            return await screens.refused(visit, outcome)
        replaced = outcome.data["replaceWithClaimLink"]
        return await screens.page(visit, "keys/issued.html", {"issued": replaced, "key": replaced["key"]})

    async def save_settings(visit: Visit) -> Response:
        values, errors = settings_input(visit.form)
        form = {**{name: visit.form.get(name, "") for name in SETTING_NAMES}, "idle": visit.form.get("idle") == "on"}
        if not errors:
            outcome = await screens.run(visit, "SetSafetySettings", {"workspace": visit.workspace_id, "input": values})
            if not outcome.errors:
                response = screens.redirect(visit, "checklist")
                response.headers["location"] += "?saved=settings#safety-settings"
                return response
            # "null" is the API's word for the switch being off; the form has the switch.
            errors = {_camel(name): reason.replace(" (or null: off)", "") for name, reason in outcome.field_errors.items()}
            if not set(errors) & {*SETTING_NAMES, "_form"}:
                return await screens.refused(visit, outcome)
        return await full_page(visit, form=form, errors=errors, status=422)

    base = "/w/{workspace}/checklist"
    return [
        screens.route(base, page, name="checklist"),
        screens.route(base + "/badge", badge, name="checklist_badge"),
        screens.route(base + "/settings", save_settings, name="checklist_settings", method="POST"),
        screens.route(base + "/all/deactivate", deactivate_all, name="checklist_deactivate_all", method="POST"),
        screens.route(base + "/keys/{key}/deactivate", deactivate, name="checklist_deactivate", method="POST"),
        screens.route(base + "/keys/{key}/reactivate", reactivate, name="checklist_reactivate", method="POST"),
        screens.route(base + "/keys/{key}/replace", replace, name="checklist_replace", method="POST"),
    ]


def _first_key(outcome: Outcome) -> dict[str, Any]:
    """The changed key of a fix's answer (the first, for a list), for the message that says it was done."""
    value = next(iter((outcome.data or {}).values()), None)
    if isinstance(value, list):
        value = value[0] if value else None
    return value or {"display": "The key"}
