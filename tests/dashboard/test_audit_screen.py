"""The audit log screen: newest first, filters, paging by cursor, readable actors and changes.

`world` wrote A's first events from the command line (workspace, endpoints,
partners, two keys issued and revealed); the tests add more through the
dashboard or the services.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from server.dashboard.audit import changes
from server.models import Membership, Workspace
from server.policy import OPERATOR
from server.services import workspaces
from server.services.audit import CLI
from tests.conftest import key_id
from tests.dashboard.conftest import Html
from tests.test_pages import secure_page

ROW = re.compile(r'<span class="action">([a-z_.]+)</span>')


def audit(world) -> str:
    return f"/w/{world.a.workspace}/audit"


def actions(html: str) -> list[str]:
    return ROW.findall(html)


@pytest.mark.parametrize("role", ["owner", "admin", "viewer"])
async def test_every_member_reads_the_log_newest_first(people_client, people, world, role):
    response = await people_client.get(audit(world), getattr(people, role))
    assert response.status_code == 200 and response.headers["vary"] == "HX-Request"
    secure_page(response)
    found = actions(response.text)
    assert found[0] == "key.reveal"
    assert found[-1] == "workspace.create" and "partner.create" in found and "key.issue" in found
    page = Html(response.text)
    assert page.has_html_element and "audit-table" in page.ids and "command line" in page.text
    assert "audit-more" not in page.ids  # everything fits on one page


async def test_an_event_names_who_did_it_what_it_touched_and_what_changed(people_client, people, world):
    await people_client.post(f"/w/{world.a.workspace}/partners/{world.a.acme}/rename", people.admin, {"name": "Acme Ltd"})
    response = await people_client.get(audit(world), people.viewer)
    body = response.text.index("<tbody>")
    first = response.text[body : response.text.index("</tr>", body)]
    assert "partner.update" in first and "Adam" in first and "Acme Ltd</a>" in first
    assert "<del>Acme</del>" in first and "<ins>Acme Ltd</ins>" in first
    # Where from, folded away: the address and the browser.
    assert '<details class="origin"><summary>127.0.0.1</summary>' in first and "threemin-tests/1.0" in first


def test_changes_read_as_a_diff():
    assert changes({"name": "Acme", "x": 1}, {"name": "Acme Ltd", "x": 1}) == [{"field": "name", "old": "Acme", "new": "Acme Ltd"}]
    created = changes(None, {"permissions": ["create", "read"], "readable_fields": None, "expires_at": None, "active": True})
    assert created == [
        {"field": "permissions", "old": None, "new": "create, read"},
        {"field": "readable fields", "old": None, "new": "every field"},
        {"field": "active", "old": None, "new": "yes"},
    ]
    assert changes({"role": "owner"}, None) == [{"field": "role", "old": "owner", "new": None}]
    assert changes({"note": "x" * 200}, {})[0]["old"].endswith("…")


async def test_filters_by_action_actor_key_and_partner(people_client, people, world):
    await people_client.post(f"/w/{world.a.workspace}/partners/{world.a.globex}/rename", people.admin, {"name": "Globex Corp"})
    live = await key_id(world.a.keys["live"])
    by_action = (await people_client.get(f"{audit(world)}?action=partner.create", people.viewer)).text
    assert actions(by_action) == ["partner.create", "partner.create"]
    assert "Showing only events with action partner.create." in Html(by_action).text
    by_actor = (await people_client.get(f"{audit(world)}?actor={people.admin.user_id}", people.viewer)).text
    assert actions(by_actor) == ["partner.update"]
    assert "Showing only events with actor Adam." in Html(by_actor).text
    by_key = (await people_client.get(f"{audit(world)}?key={live}", people.viewer)).text
    assert actions(by_key) == ["key.reveal", "key.issue"]
    by_partner = (await people_client.get(f"{audit(world)}?partner={world.a.globex}", people.viewer)).text
    assert actions(by_partner) == ["partner.update", "partner.create"]
    both = (await people_client.get(f"{audit(world)}?partner={world.a.acme}&action=key.issue&actor=cli", people.viewer)).text
    assert actions(both) == ["key.issue", "key.issue"]
    # The chosen values stay selected in the form.
    assert f'<option value="{world.a.acme}" selected>' in both and '<option value="cli" selected>' in both


async def test_a_filter_that_matches_nothing_says_so(people_client, people, world):
    page = Html((await people_client.get(f"{audit(world)}?action=member.remove", people.viewer)).text)
    assert "No event matches these filters." in page.text and "Show the newest events of every kind" in page.text


async def test_a_workspace_with_no_events_says_what_comes_here_and_what_to_do(people_client, people, world):
    quiet = await Workspace.create(name="Quiet")
    await Membership.create(workspace_id=quiet.id, user_id=people.viewer.user_id, role="viewer")
    page = Html((await people_client.get(f"/w/{quiet.id}/audit", people.viewer)).text)
    assert "Nothing has happened here yet." in page.text and "add a partner, then issue it a key" in page.text


async def test_htmx_filters_get_just_the_table(people_client, people, world):
    response = await people_client.get(f"{audit(world)}?action=key.issue&actor=&key=&partner=", people.viewer, htmx="div#audit-table")
    page = Html(response.text)
    assert response.status_code == 200 and response.headers["vary"] == "HX-Request"
    assert not page.has_html_element and response.text.lstrip().startswith('<div id="audit-table">')
    assert actions(response.text) == ["key.issue"] * 2
    # htmx's history restore (target <body>) must get the whole page.
    restore = await people_client.get(f"{audit(world)}?action=key.issue", people.viewer, htmx="body", **{"HX-History-Restore-Request": "true"})
    assert Html(restore.text).has_html_element


async def test_paging_by_cursor_with_and_without_htmx(people_client, people, world):
    for n in range(30):
        await workspaces.update_partner(OPERATOR, world.a.globex, f"Globex {n}", CLI)
    url = f"{audit(world)}?partner={world.a.globex}"
    first = await people_client.get(url, people.viewer)
    page_one = actions(first.text)
    assert len(page_one) == 25 and set(page_one) == {"partner.update"}
    assert "<ins>Globex 29</ins>" in first.text and "<ins>Globex 5</ins>" in first.text and "<ins>Globex 4</ins>" not in first.text
    older = re.search(r'<tr id="audit-more" class="more">\s*<td colspan="6"><a href="([^"]+)"', first.text).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(older).query)["partner"] == [world.a.globex] and "after" in parse_qs(urlsplit(older).query)

    # Without htmx: the next page in full, saying these are older events.
    full = await people_client.get(older, people.viewer)
    assert Html(full.text).has_html_element and "These are older events." in Html(full.text).text
    assert actions(full.text) == ["partner.update"] * 5 + ["partner.create"]
    assert "audit-more" not in Html(full.text).ids

    # With htmx: just the rows that replace the "older" row, no table around them.
    rows = await people_client.get(older, people.viewer, htmx="tr#audit-more")
    assert rows.status_code == 200 and rows.text.lstrip().startswith("<tr>") and "<table" not in rows.text
    assert actions(rows.text) == actions(full.text) and "<ins>Globex 4</ins>" in rows.text


async def test_a_cursor_that_is_not_ours_is_refused_plainly(people_client, people, world):
    response = await people_client.get(f"{audit(world)}?after=bm90LWEtY3Vyc29y", people.viewer)
    assert response.status_code == 400 and "cursor" in Html(response.text).text


async def test_actors_and_keys_are_named(people_client, people, world):
    response = await people_client.get(audit(world), people.viewer)
    live = await key_id(world.a.keys["live"])
    page = Html(response.text)
    assert f'href="/w/{world.a.workspace}/keys/{live}"' in response.text and "tm_live_…" in page.text
    # The "who" filter offers the members by name, and the command line.
    assert f'<option value="{people.owner.user_id}">Olivia</option>' in response.text and '<option value="cli">Command line</option>' in response.text
    assert "Show the newest events" not in page.text


async def test_another_workspaces_member_finds_nothing_and_strangers_sign_in(people_client, people, world):
    assert (await people_client.get(audit(world), people.owner_b)).status_code == 404
    assert (await people_client.get(audit(world), people.owner_b, htmx="div#audit-table")).status_code == 404
    response = await people_client.get(audit(world), None)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    # B's key or partner as a filter in A's log: simply no match, nothing about B.
    other = await people_client.get(f"{audit(world)}?partner={world.b.acme}", people.viewer)
    assert other.status_code == 200 and actions(other.text) == []
