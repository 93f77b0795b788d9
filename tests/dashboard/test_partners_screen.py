"""The partners screens: list with key counts, create, rename, archive; a partner's keys and activity.

Workspace A (tests/conftest.py `world`) has partners Acme (two keys) and
Globex (none); `people` are its owner, admin and viewers, and B's owner.
"""

from __future__ import annotations

import pytest

from server.models import Partner
from server.policy import OPERATOR
from server.services import workspaces
from server.services.audit import CLI
from tests.dashboard.conftest import Html
from tests.people import snapshot
from tests.test_pages import secure_page


def urls(world) -> dict[str, str]:
    base = f"/w/{world.a.workspace}/partners"
    return {
        "list": base,
        "acme": f"{base}/{world.a.acme}",
        "rename": f"{base}/{world.a.acme}/rename",
        "archive": f"{base}/{world.a.acme}/archive",
    }


# --- the list ----------------------------------------------------------------------------


async def test_the_list_counts_each_partners_keys_and_shows_admins_the_form(people_client, people, world):
    response = await people_client.get(urls(world)["list"], people.admin)
    assert response.status_code == 200 and response.headers["vary"] == "HX-Request"
    secure_page(response)
    page = Html(response.text)
    assert page.has_html_element and "partners" in page.ids and "Add partner" in page.buttons
    assert "Acme 2 (2 active)" in page.text and "Globex none yet" in page.text
    assert f"/w/{world.a.workspace}/partners" in page.actions
    assert "screens-people.css" in response.text


@pytest.mark.parametrize("role", ["owner", "admin"])
async def test_owners_and_admins_may_add(people_client, people, world, role):
    page = Html((await people_client.get(urls(world)["list"], getattr(people, role))).text)
    assert "Add partner" in page.buttons


async def test_viewers_read_the_list_without_a_single_button(people_client, people, world):
    page = Html((await people_client.get(urls(world)["list"], people.viewer)).text)
    assert "Acme" in page.text and "Add partner" not in page.buttons
    assert not [action for action in page.actions if "/partners" in action]


async def test_with_no_partner_the_list_says_what_to_do_next(people_client, people, world):
    for partner in (world.a.acme, world.a.globex):
        await workspaces.archive_partner(OPERATOR, partner, CLI)
    admin = Html((await people_client.get(urls(world)["list"], people.admin)).text)
    assert "No partners yet. Add the first one above, then issue it a key" in admin.text
    assert "Archived partners (2)" in admin.buttons
    viewer = Html((await people_client.get(urls(world)["list"], people.viewer)).text)
    assert "An admin or owner of this workspace can add them" in viewer.text


async def test_an_htmx_history_restore_gets_the_whole_page(people_client, people, world):
    response = await people_client.get(urls(world)["list"], people.viewer, htmx="body")
    assert response.status_code == 200 and Html(response.text).has_html_element
    assert response.headers["vary"] == "HX-Request"


# --- creating ----------------------------------------------------------------------------


async def test_creating_a_partner_opens_its_page(people_client, people, world):
    response = await people_client.post(urls(world)["list"], people.admin, {"name": "  Initech "})
    created = await Partner.get(workspace_id=world.a.workspace, name="Initech")
    assert response.status_code == 303 and response.headers["location"] == f"{urls(world)['list']}/{created.id}"
    assert response.headers["vary"] == "HX-Request"


async def test_creating_with_htmx_swaps_the_list_with_the_next_step(people_client, people, world):
    response = await people_client.post(urls(world)["list"], people.owner, {"name": "Initech"}, htmx="div#partners")
    assert response.status_code == 200 and response.headers["vary"] == "HX-Request"
    page = Html(response.text)
    assert not page.has_html_element and "partners" in page.ids
    assert "Initech was added. Next: open it and issue it a key." in page.text and "Initech none yet" in page.text


@pytest.mark.parametrize(
    ("name", "reason"), [("", "Must be 1 to 200 characters."), ("Acme", "A partner with this name exists."), ("x" * 201, "Must be 1 to 200 characters.")]
)
async def test_a_refused_name_is_explained_next_to_the_field(people_client, people, world, name, reason):
    before = await snapshot()
    response = await people_client.post(urls(world)["list"], people.admin, {"name": name})
    assert response.status_code == 422
    page = Html(response.text)
    assert page.has_html_element and "f-name-error" in page.ids and reason in page.text
    assert 'aria-invalid="true"' in response.text
    fragment = await people_client.post(urls(world)["list"], people.admin, {"name": name}, htmx="div#partners")
    assert fragment.status_code == 422 and "f-name-error" in Html(fragment.text).ids and not Html(fragment.text).has_html_element
    assert await snapshot() == before


async def test_a_viewer_who_posts_anyway_is_refused_and_nothing_changes(people_client, people, world):
    before = await snapshot()
    page = await people_client.post(urls(world)["list"], people.viewer, {"name": "Initech"})
    assert page.status_code == 403 and Html(page.text).has_html_element
    fragment = await people_client.post(urls(world)["list"], people.viewer, {"name": "Initech"}, htmx="div#partners")
    assert fragment.status_code == 403 and fragment.headers["hx-retarget"] == "#flash"
    assert "This needs the admin role; you are viewer." in fragment.text
    for path, data in ((urls(world)["rename"], {"name": "Hacked"}), (urls(world)["archive"], {"confirm": "yes"})):
        assert (await people_client.post(path, people.viewer, data)).status_code == 403
        assert (await people_client.post(path, people.viewer, data, htmx="div#partner")).status_code == 403
    assert await snapshot() == before


# --- a partner's page --------------------------------------------------------------------


async def test_a_partners_page_shows_its_keys_with_their_switches_and_its_activity(people_client, people, world):
    response = await people_client.get(urls(world)["acme"], people.admin)
    assert response.status_code == 200
    secure_page(response)
    page = Html(response.text)
    key_rows = [i for i in page.ids if i.startswith("key-")]
    assert len(key_rows) == 2 and page.buttons.count("Deactivate") == 2
    assert f"/w/{world.a.workspace}/keys/{key_rows[0].removeprefix('key-')}/deactivate" in page.actions
    assert "partner.create" in page.text and "key.issue" in page.text and "command line" in page.text
    assert {"Rename", "Save name", "Archive Acme…", "Yes, archive Acme"} <= set(page.buttons)
    assert "Every key of Acme stops working on its very next request (2 keys)" in page.text


async def test_a_viewer_sees_a_partners_page_read_only(people_client, people, world):
    page = Html((await people_client.get(urls(world)["acme"], people.viewer)).text)
    assert [i for i in page.ids if i.startswith("key-")] and "partner.create" in page.text
    assert page.actions == ["/logout"] and not {"Deactivate", "Rename", "Archive Acme…", "Issue a key"} & set(page.buttons)
    assert "Issue a key" not in page.text


async def test_a_partner_without_keys_says_how_to_get_one(people_client, people, world):
    page = Html((await people_client.get(f"{urls(world)['list']}/{world.a.globex}", people.admin)).text)
    assert "Globex has no keys yet. Issue one so they can send data to an endpoint" in page.text


# --- rename and archive ------------------------------------------------------------------


async def test_renaming(people_client, people, world):
    response = await people_client.post(urls(world)["rename"], people.admin, {"name": "Acme Ltd"})
    assert response.status_code == 303 and response.headers["location"] == urls(world)["acme"]
    assert (await Partner.get(id=world.a.acme)).name == "Acme Ltd"
    fragment = await people_client.post(urls(world)["rename"], people.owner, {"name": "Acme Group"}, htmx="div#partner")
    page = Html(fragment.text)
    assert fragment.status_code == 200 and not page.has_html_element and fragment.text.startswith('<div id="partner">')
    assert "Renamed to Acme Group." in page.text and "Archive Acme Group…" in page.buttons
    assert "<del>Acme Ltd</del>" in fragment.text and "<ins>Acme Group</ins>" in fragment.text  # the activity has the rename


async def test_a_refused_rename_keeps_the_name_and_says_why_next_to_the_field(people_client, people, world):
    response = await people_client.post(urls(world)["rename"], people.admin, {"name": "Globex"})
    assert response.status_code == 422 and "A partner with this name exists." in Html(response.text).text
    assert "f-name-error" in Html(response.text).ids
    fragment = await people_client.post(urls(world)["rename"], people.admin, {"name": ""}, htmx="div#partner")
    assert fragment.status_code == 422 and "f-name-error" in Html(fragment.text).ids and "Must be 1 to 200 characters." in Html(fragment.text).text
    assert (await Partner.get(id=world.a.acme)).name == "Acme"


async def test_archiving_needs_the_confirmation_and_then_stops_the_keys(people_client, people, world):
    unconfirmed = await people_client.post(urls(world)["archive"], people.admin)
    assert unconfirmed.status_code == 422 and (await Partner.get(id=world.a.acme)).archived_at is None
    response = await people_client.post(urls(world)["archive"], people.admin, {"confirm": "yes"})
    assert response.status_code == 303 and response.headers["location"] == urls(world)["acme"]
    assert (await Partner.get(id=world.a.acme)).archived_at is not None
    page = Html((await people_client.get(urls(world)["acme"], people.admin)).text)
    assert "None of Acme's keys work any more" in page.text and "Archive Acme…" not in page.buttons
    assert "Rename" not in page.buttons


async def test_archiving_with_htmx_swaps_the_partner(people_client, people, world):
    response = await people_client.post(urls(world)["archive"], people.owner, {"confirm": "yes"}, htmx="div#partner")
    page = Html(response.text)
    assert response.status_code == 200 and not page.has_html_element and "partner" in page.ids
    assert "Archived on" in page.text and "partner.archive" in page.text


# --- who may come in ---------------------------------------------------------------------


async def test_another_workspaces_member_finds_nothing(people_client, people, world):
    before = await snapshot()
    for path in (urls(world)["list"], urls(world)["acme"]):
        assert (await people_client.get(path, people.owner_b)).status_code == 404
    for path, data in ((urls(world)["list"], {"name": "X"}), (urls(world)["rename"], {"name": "X"}), (urls(world)["archive"], {"confirm": "yes"})):
        assert (await people_client.post(path, people.owner_b, data)).status_code == 404
    # B's partner through A's address: as if it did not exist.
    assert (await people_client.get(f"{urls(world)['list']}/{world.b.acme}", people.owner)).status_code == 404
    response = await people_client.post(f"{urls(world)['list']}/{world.b.acme}/rename", people.owner, {"name": "X"})
    assert response.status_code == 404
    assert await snapshot() == before


async def test_without_a_session_every_route_leads_to_sign_in(people_client, world):
    for path in (urls(world)["list"], urls(world)["acme"]):
        response = await people_client.get(path, None)
        assert response.status_code == 303 and response.headers["location"] == "/login"
    for path in (urls(world)["list"], urls(world)["rename"], urls(world)["archive"]):
        response = await people_client.post(path, None, {"name": "X"})
        assert response.status_code == 303 and response.headers["location"] == "/login"


@pytest.mark.parametrize("route", ["list", "rename", "archive"])
async def test_posts_without_the_csrf_token_or_from_another_site_are_refused(people_client, people, world, route):
    before = await snapshot()
    path, data = urls(world)[route], {"name": "Initech", "confirm": "yes"}
    assert (await people_client.post(path, people.owner, data, csrf=None)).status_code == 403
    assert (await people_client.post(path, people.owner, data, csrf="0" * 64)).status_code == 403
    assert (await people_client.post(path, people.owner, data, csrf="0" * 64, htmx="div#partner")).status_code == 403
    assert (await people_client.post(path, people.owner, data, csrf=people_client.csrf(people.admin))).status_code == 403
    assert (await people_client.post(path, people.owner, data, **{"Sec-Fetch-Site": "cross-site"})).status_code == 403
    assert await snapshot() == before
