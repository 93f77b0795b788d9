"""The audit log screen: events newest first, filters, paging by the API's cursors.

Also the readable form of an event (who, what, which object, what changed),
which the partners screen uses for a partner's activity. Events come from
web/operations/audit.graphql; names for user, key, partner and endpoint ids
come from the same workspace query, so nothing is read around the API.
An htmx request gets just the table (filters changed) or just the next rows
("older events"); the same URL without htmx is the full page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response
from starlette.routing import Route

from server.dashboard.screens import Screens, Visit

PAGE = 25
FILTERS = ("action", "actor", "key", "partner")
# Every action the services write (the audit.log calls in server/services), for the filter.
ACTIONS = (
    "workspace.create",
    "endpoint.create",
    "endpoint.update",
    "endpoint.archive",
    "partner.create",
    "partner.update",
    "partner.archive",
    "key.issue",
    "key.reveal",
    "key.claim_link",
    "key.claim",
    "key.deactivate",
    "key.reactivate",
    "key.roll",
    "key.permissions",
    "key.delete",
    "member.invite",
    "member.join",
    "member.role_change",
    "member.remove",
    "user.sign_in",
    "user.sign_in_failed",
    "user.password_change",
)
VALUE_LIMIT = 80


@dataclass(frozen=True, slots=True)
class Names:
    """Readable names for the ids an event holds; an id not found here is shown as it is."""

    users: dict[str, str] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    partners: dict[str, str] = field(default_factory=dict)
    endpoints: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, workspace: dict[str, Any]) -> Names:
        return cls(
            users={m["user"]["id"]: m["user"]["name"] for m in workspace.get("members", [])},
            keys={k["id"]: k["display"] for k in workspace.get("keys", [])},
            partners={p["id"]: p["name"] for p in workspace.get("partners", [])},
            endpoints={e["id"]: e["name"] for e in workspace.get("endpoints", [])},
        )

    def actor(self, actor: str) -> dict[str, str]:
        """The actor as `{"label", "kind"}`: a person's name, a key, or the command line."""
        if actor == "cli":
            return {"label": "command line", "kind": "cli"}
        if actor in self.users:
            return {"label": self.users[actor], "kind": "user"}
        if actor in self.keys:
            return {"label": self.keys[actor], "kind": "key"}
        if actor.startswith("email:"):  # a failed sign-in names the address that was tried
            return {"label": actor.removeprefix("email:"), "kind": "email"}
        return {"label": actor, "kind": "id"}

    def target(self, kind: str, target_id: str, after: dict[str, Any] | None) -> str:
        found = {"user": self.users, "key": self.keys, "partner": self.partners, "endpoint": self.endpoints}.get(kind, {})
        if target_id in found:
            return found[target_id]
        if kind == "invitation" and after and after.get("email"):
            return str(after["email"])
        return target_id


# In before / after, null here means "no limit", not "nothing".
EVERY_FIELD = {"readable_fields", "writable_fields"}


def shown(value: Any) -> str:
    """A value of before / after in a few words: lists joined, nothing longer than a line."""
    if value is None:
        text = "none"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, list):
        text = ", ".join(shown(v) for v in value) or "none"
    elif isinstance(value, dict):
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    else:
        text = str(value)
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None, names: Names | None = None) -> list[dict[str, str | None]]:
    """Before / after as a diff, field by field: what changed, what was set, what was removed.

    A value that was only set (a creation) and is empty is left out: it says nothing.
    Partner and endpoint ids are given their names.
    """
    before, after = before or {}, after or {}
    names = names or Names()
    lookup = {"partner": names.partners, "endpoint": names.endpoints}

    def word(name: str, value: Any) -> str:
        if value is None and name in EVERY_FIELD:
            return "every field"
        if name in lookup and isinstance(value, str):
            return lookup[name].get(value, value)
        return shown(value)

    out: list[dict[str, str | None]] = []
    for name in [*before, *(n for n in after if n not in before)]:
        old, new = before.get(name), after.get(name)
        if name in before and name in after and old == new:
            continue
        if name not in before and new is None and name not in EVERY_FIELD:
            continue
        out.append(
            {
                "field": name.replace("_", " "),
                "old": word(name, old) if name in before else None,
                "new": word(name, new) if name in after else None,
            }
        )
    return out


def entries(edges: list[dict[str, Any]], names: Names) -> list[dict[str, Any]]:
    """Events ready for audit/_rows.html."""
    out = []
    for edge in edges:
        event = edge["node"]
        out.append(
            {
                "when": event["createdAt"][:19].replace("T", " "),
                "datetime": event["createdAt"],
                "actor": names.actor(event["actor"]),
                "actor_id": event["actor"],
                "action": event["action"],
                "target_kind": event["targetKind"],
                "target_id": event["targetId"],
                "target": names.target(event["targetKind"], event["targetId"], event["after"]),
                "changes": changes(event["before"], event["after"], names),
                "ip": event["ip"],
                "user_agent": event["userAgent"],
            }
        )
    return out




def routes(screens: Screens) -> list[Route]:
    async def audit_log(visit: Visit) -> Response:
        params = visit.request.query_params
        chosen = {name: params.get(name) or None for name in FILTERS}
        after = params.get("after") or None
        variables = {"workspace": visit.workspace_id, "first": PAGE, "after": after, **chosen}
        workspace = (await screens.read(visit, "AuditLog", variables))["workspace"]
        connection = workspace["auditEvents"]
        names = Names.of(workspace)
        filtered = {name: value for name, value in chosen.items() if value}
        here = visit.request.url_for("audit", workspace=visit.workspace_id).path
        older = connection["pageInfo"]["endCursor"] if connection["pageInfo"]["hasNextPage"] else None
        context = {
            "workspace": workspace,
            "names": names,
            "events": entries(connection["edges"], names),
            "chosen": chosen,
            "filtered": filtered,
            "after": after,
            "here": here,
            "older_url": f"{here}?{urlencode({**filtered, 'after': older})}" if older else None,
            "actions": ACTIONS,
        }
        target = visit.target
        if target == "audit-more":
            return screens.render(visit, "audit/_rows.html", context)
        if target == "audit-table":
            return screens.render(visit, "audit/_table.html", context)
        return await screens.page(visit, "audit/list.html", context)

    return [screens.route("/w/{workspace}/audit", audit_log, name="audit")]
