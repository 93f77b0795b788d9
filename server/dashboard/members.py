"""The members screen (owners only): who is in the workspace, invitations, roles, removal.

Runs web/operations/members.graphql. The API already limits these
operations to owners; the screen itself answers 403 to anyone else, as the
navigation hides it from them. An invitation's one-time link is shown in the
answer to the invite and never again. The API keeps at least one owner and
says so in a field error, which is shown next to the member concerned.
htmx gets one member's row (or nothing, once removed) and the invite panel;
without htmx the same forms redirect back or show the full page.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.dashboard.pages import Outcome, Refused
from server.dashboard.screens import Screens, Visit
from server.policy import Role

ROLES = [
    ("VIEWER", "Viewer", "can read everything but change nothing"),
    ("ADMIN", "Admin", "can also manage partners and keys"),
    ("OWNER", "Owner", "can also manage endpoints and members"),
]


def _owner_only(visit: Visit) -> None:
    if not visit.can(Role.OWNER):
        raise Refused(403, "Owners only", "Only an owner of this workspace can see and change its members.")


def _problem(outcome: Outcome) -> str | None:
    """A refusal about the member (the last owner), or None for any other kind."""
    fields = outcome.field_errors
    return fields.get("role") or fields.get("user")


def routes(screens: Screens) -> list[Route]:
    async def members_of(visit: Visit) -> list[dict[str, Any]]:
        return (await screens.read(visit, "MemberList", {"workspace": visit.workspace_id}))["workspace"]["members"]

    async def full(visit: Visit, status: int = 200, **context: Any) -> Response:
        defaults = {"members": await members_of(visit), "roles_offered": ROLES, "form": {"role": "VIEWER"}, "errors": {}, "problems": {}, "invitation": None}
        return await screens.page(visit, "members/list.html", {**defaults, **context}, status)

    async def member_list(visit: Visit) -> Response:
        _owner_only(visit)
        return await full(visit)

    async def invite(visit: Visit) -> Response:
        _owner_only(visit)
        form = {"email": visit.form.get("email", ""), "role": visit.form.get("role", "VIEWER")}
        outcome = await screens.run(visit, "InviteMember", {"workspace": visit.workspace_id, **form})
        if outcome.errors and not outcome.field_errors.keys() & {"email", "role"}:
            return await screens.refused(visit, outcome)
        if outcome.errors:
            context = {"form": form, "errors": outcome.field_errors, "roles_offered": ROLES, "invitation": None}
            if visit.htmx:
                return screens.render(visit, "members/_invite.html", context, 422)
            return await full(visit, 422, **context)
        invitation = outcome.data["inviteMember"]
        if visit.htmx:
            return screens.render(visit, "members/_invite.html", {"form": {"role": "VIEWER"}, "errors": {}, "roles_offered": ROLES, "invitation": invitation})
        return await full(visit, invitation=invitation)

    async def change_role(visit: Visit) -> Response:
        _owner_only(visit)
        user_id = visit.request.path_params["user"]
        variables = {"workspace": visit.workspace_id, "user": user_id, "role": visit.form.get("role", "")}
        outcome = await screens.run(visit, "ChangeMemberRole", variables)
        return await answer(visit, outcome, user_id, outcome.data["changeMemberRole"] if not outcome.errors else None)

    async def remove(visit: Visit) -> Response:
        _owner_only(visit)
        user_id = visit.request.path_params["user"]
        if visit.form.get("confirm") != "yes":
            unconfirmed = {"message": "Confirm that this member should be removed.", "extensions": {"code": "VALIDATION_FAILED"}}
            return await screens.refused(visit, Outcome(None, [unconfirmed], ""))
        outcome = await screens.run(visit, "RemoveMember", {"workspace": visit.workspace_id, "user": user_id})
        return await answer(visit, outcome, user_id, None)

    async def answer(visit: Visit, outcome: Outcome, user_id: str, changed: dict[str, Any] | None) -> Response:
        """After a role change or removal: the row (htmx) or the page; the last-owner refusal next to the member."""
        if outcome.errors and not _problem(outcome):
            return await screens.refused(visit, outcome)
        if outcome.errors:
            problems = {user_id: _problem(outcome)}
            if visit.htmx:
                member = next((m for m in await members_of(visit) if m["user"]["id"] == user_id), None)
                if member is not None:
                    return screens.render(visit, "members/_row.html", {"member": member, "roles_offered": ROLES, "problems": problems}, 422)
            return await full(visit, 422, problems=problems)
        if user_id == visit.principal.user_id:
            # You changed or ended your own place here: this screen may no longer be yours.
            return _redirect(visit, "members" if changed and changed["role"] == "OWNER" else "home")
        if not visit.htmx:
            return _redirect(visit, "members")
        if changed is None:
            return Response("", status_code=200)  # removed: the row swaps itself out
        return screens.render(visit, "members/_row.html", {"member": changed, "roles_offered": ROLES, "problems": {}, "saved": True})

    base = "/w/{workspace}/members"
    return [
        screens.route(base, member_list, name="members"),
        screens.route(base + "/invite", invite, name="member_invite", method="POST"),
        screens.route(base + "/{user}/role", change_role, name="member_role", method="POST"),
        screens.route(base + "/{user}/remove", remove, name="member_remove", method="POST"),
    ]


def _redirect(visit: Visit, name: str) -> Response:
    params = {} if name == "home" else {"workspace": visit.workspace_id}
    response = RedirectResponse(visit.request.url_for(name, **params).path, status_code=303)
    if visit.htmx:
        # htmx follows a redirect inside fetch and would swap the new page into the row.
        response = Response("", status_code=200, headers={"hx-redirect": response.headers["location"]})
    return response
