"""The members screen (owners only): list with roles, invite by one-time link, change role, remove.

`people`: Olivia owns workspace A (its only owner), Adam is an admin, Vera and
Bob are viewers; Bea owns workspace B.
"""

from __future__ import annotations

import re

import pytest

from server.models import Invitation, Membership, Session
from tests.dashboard.conftest import Html
from tests.people import snapshot
from tests.test_pages import secure_page

LINK = re.compile(r'<textarea id="invitation-url" [^>]*>(http://[^<]+/invite/[A-Za-z0-9_-]+)</textarea>')
LAST_OWNER = "A workspace keeps at least one owner."


def urls(world, people) -> dict[str, str]:
    base = f"/w/{world.a.workspace}/members"
    return {
        "list": base,
        "invite": f"{base}/invite",
        "role": f"{base}/{people.bystander.user_id}/role",
        "remove": f"{base}/{people.bystander.user_id}/remove",
        "own_role": f"{base}/{people.owner.user_id}/role",
        "leave": f"{base}/{people.owner.user_id}/remove",
    }


async def role_of(world, person) -> str | None:
    membership = await Membership.get_or_none(workspace_id=world.a.workspace, user_id=person.user_id)
    return membership.role if membership else None


async def test_the_owner_sees_every_member_with_their_role_and_the_invitation_form(people_client, people, world):
    response = await people_client.get(urls(world, people)["list"], people.owner)
    assert response.status_code == 200 and response.headers["vary"] == "HX-Request"
    secure_page(response)
    page = Html(response.text)
    assert {f"member-{p.user_id}" for p in (people.owner, people.admin, people.viewer, people.bystander)} <= page.ids
    assert f"member-{people.owner_b.user_id}" not in page.ids
    assert '<option value="ADMIN" selected>Admin</option>' in response.text
    assert page.buttons.count("Change role") == 4 and "Yes, remove Bob" in page.buttons and "Yes, leave" in page.buttons
    assert "Create invitation link" in page.buttons and "copy.js" in response.text
    assert "Olivia you" in page.text  # your own row says so


@pytest.mark.parametrize("role", ["admin", "viewer"])
async def test_anyone_but_an_owner_gets_403_for_every_route_and_nothing_changes(people_client, people, world, role):
    person, before = getattr(people, role), await snapshot()
    assert (await people_client.get(urls(world, people)["list"], person)).status_code == 403
    for route, data in (("invite", {"email": "eve@example.com", "role": "OWNER"}), ("role", {"role": "OWNER"}), ("remove", {"confirm": "yes"})):
        assert (await people_client.post(urls(world, people)[route], person, data)).status_code == 403
        assert (await people_client.post(urls(world, people)[route], person, data, htmx=f"tr#member-{people.bystander.user_id}")).status_code == 403
    assert await snapshot() == before
    # ... and the navigation never offered them the link.
    keys_page = await people_client.get(f"/w/{world.a.workspace}/keys", person)
    assert urls(world, people)["list"] not in keys_page.text


async def test_another_workspaces_owner_finds_nothing_and_strangers_sign_in(people_client, people, world):
    before = await snapshot()
    assert (await people_client.get(urls(world, people)["list"], people.owner_b)).status_code == 404
    for route in ("invite", "role", "remove"):
        assert (await people_client.post(urls(world, people)[route], people.owner_b, {"email": "e@x.io", "role": "OWNER", "confirm": "yes"})).status_code == 404
    assert await snapshot() == before
    response = await people_client.get(urls(world, people)["list"], None)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    response = await people_client.post(urls(world, people)["invite"], None, {"email": "e@x.io", "role": "OWNER"})
    assert response.status_code == 303 and response.headers["location"] == "/login"


# --- inviting ----------------------------------------------------------------------------


async def test_an_invitation_link_is_shown_once_with_a_copy_button(people_client, people, world):
    response = await people_client.post(urls(world, people)["invite"], people.owner, {"email": "Eve@Example.com", "role": "ADMIN"})
    assert response.status_code == 200
    link = LINK.search(response.text).group(1)
    assert 'data-copy="invitation-url" data-copy-status="copy-status"' in response.text
    assert "Send this link to eve@example.com yourself. It lets one person join as admin, works once" in Html(response.text).text
    assert (await Invitation.get(workspace_id=world.a.workspace)).email == "eve@example.com"
    again = await people_client.get(urls(world, people)["list"], people.owner)
    assert link not in again.text and "invitation-url" not in Html(again.text).ids


async def test_inviting_with_htmx_swaps_just_the_invitation_panel(people_client, people, world):
    response = await people_client.post(urls(world, people)["invite"], people.owner, {"email": "eve@example.com", "role": "VIEWER"}, htmx="section#invite")
    page = Html(response.text)
    assert response.status_code == 200 and not page.has_html_element and response.headers["vary"] == "HX-Request"
    assert response.text.lstrip().startswith('<section id="invite"') and LINK.search(response.text)
    assert "Invite someone else" in page.text


@pytest.mark.parametrize(("email", "role", "field", "reason"), [("not an email", "VIEWER", "email", "Must be an email address.")])
async def test_a_refused_invitation_says_why_next_to_the_field(people_client, people, world, email, role, field, reason):
    before = await snapshot()
    response = await people_client.post(urls(world, people)["invite"], people.owner, {"email": email, "role": role})
    assert response.status_code == 422 and f"f-{field}-error" in Html(response.text).ids and reason in Html(response.text).text
    assert f'value="{email}"' in response.text  # what was typed stays
    fragment = await people_client.post(urls(world, people)["invite"], people.owner, {"email": email, "role": role}, htmx="section#invite")
    assert fragment.status_code == 422 and f"f-{field}-error" in Html(fragment.text).ids and not Html(fragment.text).has_html_element
    assert await snapshot() == before


async def test_a_role_that_does_not_exist_is_refused(people_client, people, world):
    response = await people_client.post(urls(world, people)["invite"], people.owner, {"email": "eve@example.com", "role": "KING"})
    assert response.status_code == 422 and not await Invitation.exists()


# --- roles -------------------------------------------------------------------------------


async def test_changing_a_role(people_client, people, world):
    response = await people_client.post(urls(world, people)["role"], people.owner, {"role": "ADMIN"})
    assert response.status_code == 303 and response.headers["location"] == urls(world, people)["list"]
    assert await role_of(world, people.bystander) == "admin"
    fragment = await people_client.post(urls(world, people)["role"], people.owner, {"role": "OWNER"}, htmx=f"tr#member-{people.bystander.user_id}")
    page = Html(fragment.text)
    assert fragment.status_code == 200 and not page.has_html_element and page.ids >= {f"member-{people.bystander.user_id}"}
    assert '<option value="OWNER" selected>Owner</option>' in fragment.text and "Saved" in page.text
    assert await role_of(world, people.bystander) == "owner"


async def test_the_last_owner_cannot_step_down_and_is_told_so_beside_their_name(people_client, people, world):
    before = await snapshot()
    response = await people_client.post(urls(world, people)["own_role"], people.owner, {"role": "ADMIN"})
    assert response.status_code == 422
    row = response.text[response.text.index(f'id="member-{people.owner.user_id}"') :]
    row = row[: row.index("</tr>")]
    assert f'id="problem-{people.owner.user_id}"' in row and LAST_OWNER in row
    fragment = await people_client.post(urls(world, people)["own_role"], people.owner, {"role": "VIEWER"}, htmx=f"tr#member-{people.owner.user_id}")
    assert fragment.status_code == 422 and LAST_OWNER in fragment.text and fragment.text.lstrip().startswith("<tr")
    leave = await people_client.post(urls(world, people)["leave"], people.owner, {"confirm": "yes"}, htmx=f"tr#member-{people.owner.user_id}")
    assert leave.status_code == 422 and LAST_OWNER in leave.text
    assert await snapshot() == before


async def test_an_owner_who_steps_down_is_sent_away_from_this_screen(people_client, people, world):
    await people_client.post(f"{urls(world, people)['list']}/{people.admin.user_id}/role", people.owner, {"role": "OWNER"})
    response = await people_client.post(urls(world, people)["own_role"], people.owner, {"role": "ADMIN"}, htmx=f"tr#member-{people.owner.user_id}")
    assert response.status_code == 200 and response.headers["hx-redirect"] == "/"
    assert await role_of(world, people.owner) == "admin"
    assert (await people_client.get(urls(world, people)["list"], people.owner)).status_code == 403


# --- removing ----------------------------------------------------------------------------


async def test_removing_needs_the_confirmation_and_ends_their_sessions(people_client, people, world):
    unconfirmed = await people_client.post(urls(world, people)["remove"], people.owner)
    assert unconfirmed.status_code == 422 and await role_of(world, people.bystander) == "viewer"
    response = await people_client.post(urls(world, people)["remove"], people.owner, {"confirm": "yes"})
    assert response.status_code == 303 and response.headers["location"] == urls(world, people)["list"]
    assert await role_of(world, people.bystander) is None and not await Session.exists(user_id=people.bystander.user_id)


async def test_removing_with_htmx_takes_the_row_away(people_client, people, world):
    response = await people_client.post(urls(world, people)["remove"], people.owner, {"confirm": "yes"}, htmx=f"tr#member-{people.bystander.user_id}")
    assert response.status_code == 200 and response.text == "" and response.headers["vary"] == "HX-Request"
    assert await role_of(world, people.bystander) is None


@pytest.mark.parametrize("route", ["invite", "role", "remove"])
async def test_posts_without_the_csrf_token_or_from_another_site_are_refused(people_client, people, world, route):
    before = await snapshot()
    path, data = urls(world, people)[route], {"email": "eve@example.com", "role": "OWNER", "confirm": "yes"}
    assert (await people_client.post(path, people.owner, data, csrf=None)).status_code == 403
    assert (await people_client.post(path, people.owner, data, csrf="f" * 64)).status_code == 403
    assert (await people_client.post(path, people.owner, data, csrf="f" * 64, htmx="section#invite")).status_code == 403
    assert (await people_client.post(path, people.owner, data, **{"Sec-Fetch-Site": "cross-site"})).status_code == 403
    assert await snapshot() == before
