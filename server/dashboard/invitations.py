"""Invitation and first-run setup links: show what the link is for, then create the account.

A setup link (no workspace yet) asks for a workspace name, a name, an email
and a password; an invitation to a workspace has its email fixed. Either
signs the new member in. A used, expired or unknown link gets one page that
tells nothing about which of those it was.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.dashboard.pages import Pages, Refused, actor, read_form
from server.errors import NotFound, ValidationFailed
from server.passwords import MIN_LENGTH
from server.services import members
from server.services.members import InvitationView

# The form's field names are the services' field names, so their errors land
# next to the right input without a mapping.
SETUP_FIELDS = ("workspaceName", "name", "email", "password")
JOIN_FIELDS = ("name", "password")


async def _inspect(token: str, pages: Pages) -> InvitationView:
    try:
        return await members.inspect_invitation(token, pages.settings)
    except NotFound as missing:
        raise Refused(404, "This link cannot be used", missing.message) from None


def routes(pages: Pages) -> list[Route]:
    def form(request: Request, token: str, invitation: InvitationView, values: dict[str, str], errors: dict[str, str], status: int = 200) -> Response:
        context = {
            "token": token,
            "invitation": invitation,
            "setup": invitation.workspace_name is None,
            "values": values,
            "errors": errors,
            "min_password": MIN_LENGTH,
        }
        return pages.render(request, "invite.html", context, status)

    async def show(request: Request) -> Response:
        token = request.path_params["token"]
        return form(request, token, await _inspect(token, pages), {}, {})

    async def accept(request: Request) -> Response:
        token = request.path_params["token"]
        invitation = await _inspect(token, pages)
        submitted = await read_form(request)
        names = SETUP_FIELDS if invitation.workspace_name is None else JOIN_FIELDS
        values = {name: submitted.get(name, "") for name in names}
        try:
            _, session = await members.accept(
                token,
                name=values["name"],
                password=values["password"],
                settings=pages.settings,
                actor=actor(request),
                email=values.get("email"),
                workspace_name=values.get("workspaceName"),
            )
        except NotFound as missing:  # used by someone else meanwhile
            raise Refused(404, "This link cannot be used", missing.message) from None
        except ValidationFailed as invalid:
            fields = invalid.extensions.get("fields") or {}
            errors = {name: why for name, why in fields.items() if name in names}
            # Anything that has no input of its own is said above the form.
            others = [f"{name}: {why}" for name, why in fields.items() if name not in names]
            errors["_form"] = "; ".join(others) if others else "Please correct the marked fields." if fields else invalid.message
            values.pop("password")  # never sent back to the browser
            return form(request, token, invitation, values, errors, 422)
        response = pages.redirect(request, "home")
        pages.start_session(request, response, session)
        return response

    return [
        pages.route("/invite/{token}", show, name="invite"),
        pages.route("/invite/{token}", accept, name="invite_accept", method="POST"),
    ]
