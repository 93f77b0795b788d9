"""The safety checklist screen, its fixes and settings; a key's usage (advisor) and the records it wrote (blast radius).

Workspace A (tests/conftest.py `world`) has a test and a live key of Acme on
orders, both revealed on screen: "plain text" fires for both. `fired` ages the
test key so that "unused keys" fires for it too (3 open findings). `people`
are A's owner, admin and viewers, and B's owner.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from server.models import ApiKey, AuditEvent, Workspace
from tests.api.test_checklist import TODAY, shape
from tests.conftest import CREATE, gql_ok, issue, key_id
from tests.dashboard.conftest import Html
from tests.people import snapshot
from tests.test_pages import secure_page

BADGE = re.compile(r'<span id="checklist-badge"[^>]*>\s*(\d*)')


async def fired(world) -> dict[str, str]:
    """A's keys by environment, the test one issued 40 days ago and never used."""
    ids = {env: await key_id(world.a.keys[env]) for env in ("test", "live")}
    await ApiKey.filter(id=ids["test"]).update(created_at=datetime.now(UTC) - timedelta(days=40))
    return ids


def urls(world, key: str = "") -> dict[str, str]:
    base = f"/w/{world.a.workspace}/checklist"
    return {
        "page": base,
        "badge": base + "/badge",
        "settings": base + "/settings",
        "all": base + "/all/deactivate",
        "deactivate": f"{base}/keys/{key}/deactivate",
        "reactivate": f"{base}/keys/{key}/reactivate",
        "replace": f"{base}/keys/{key}/replace",
        "usage": f"/w/{world.a.workspace}/keys/{key}/usage",
        "reduce": f"/w/{world.a.workspace}/keys/{key}/reduce",
        "records": f"/w/{world.a.workspace}/keys/{key}/records",
    }


def badge(html: str) -> str:
    found = BADGE.search(html)
    assert found, "no badge"
    return found.group(1)


async def events(action: str, target: str) -> list[AuditEvent]:
    return await AuditEvent.filter(action=action, target_id=target).order_by("seq")


# --- the page ----------------------------------------------------------------------------


async def test_the_page_shows_each_question_with_the_keys_concerned_their_evidence_and_the_badge(people_client, people, world):
    ids = await fired(world)
    response = await people_client.get(urls(world)["page"], people.admin)
    assert response.status_code == 200 and response.headers["vary"] == "HX-Request"
    secure_page(response)
    page = Html(response.text)
    assert page.has_html_element and "screens-checklist.css" in response.text
    assert {"check-shared-keys", "check-test-before-live", "check-plain-text-handover", "check-unused-keys", "check-excess-permissions"} <= page.ids
    assert f"check-unused-keys-{ids['test']}" in page.ids and f"check-unused-keys-{ids['live']}" not in page.ids
    assert {f"check-plain-text-handover-{ids['test']}", f"check-plain-text-handover-{ids['live']}"} <= page.ids
    assert "3 open findings under 2 questions." in page.text and "never used" in page.text
    assert "Unused keys still active? 1 key concerned" in page.text and "Separate keys per partner? All good" in page.text
    assert badge(response.text) == "3" and 'aria-current="page"' in response.text


async def test_with_nothing_to_fix_the_page_says_all_clear_and_the_badge_shows_nothing(people_client, people, world):
    await ApiKey.filter(workspace_id=world.a.workspace).update(handover="claim")
    response = await people_client.get(urls(world)["page"], people.viewer)
    assert "All clear. Nothing needs your attention right now." in Html(response.text).text
    assert badge(response.text) == "" and '<span id="checklist-badge" class="count-badge"></span>' in response.text


@pytest.mark.parametrize("role", ["owner", "admin"])
async def test_owners_and_admins_get_the_fixes_and_the_settings_form(people_client, people, world, role):
    ids = await fired(world)
    page = Html((await people_client.get(urls(world)["page"], getattr(people, role))).text)
    assert {"Deactivate…", "Yes, deactivate", "Hand over by link…", "Yes, make a claim link", "Deactivate all 2…", "Save settings"} <= set(page.buttons)
    assert urls(world, ids["test"])["deactivate"] in page.actions and urls(world)["settings"] in page.actions
    assert urls(world)["all"] in page.actions


async def test_a_viewer_reads_the_checklist_without_a_single_fix(people_client, people, world):
    await fired(world)
    response = await people_client.get(urls(world)["page"], people.viewer)
    page = Html(response.text)
    assert "never used" in page.text and badge(response.text) == "3"
    assert page.actions == ["/logout"] and not [b for b in page.buttons if b not in ("Sign out",)]
    assert "An admin or owner can apply the fixes." in page.text
    assert "A key looks shared above 3 distinct clients in a day" in page.text and "The idle-key policy is off." in page.text


async def test_htmx_asking_for_the_cards_gets_them_alone_with_the_badge_out_of_band(people_client, people, world):
    await fired(world)
    response = await people_client.get(urls(world)["page"], people.viewer, htmx="div#checks")
    page = Html(response.text)
    assert response.status_code == 200 and not page.has_html_element and response.text.lstrip().startswith('<div id="checks">')
    assert "checklist-badge" in page.ids and 'hx-swap-oob="true"' in response.text and badge(response.text) == "3"
    restore = await people_client.get(urls(world)["page"], people.viewer, htmx="body")
    assert Html(restore.text).has_html_element


# --- the badge on every screen ------------------------------------------------------------


async def test_other_screens_fetch_the_badge_after_loading_and_it_counts_the_open_findings(people_client, people, world):
    await fired(world)
    keys_page = await people_client.get(f"/w/{world.a.workspace}/keys", people.viewer)
    assert f'<span id="checklist-badge" class="count-badge" hx-get="{urls(world)["badge"]}" hx-trigger="load"></span>' in keys_page.text
    response = await people_client.get(urls(world)["badge"], people.viewer, htmx="span#checklist-badge")
    assert response.status_code == 200 and response.text.startswith("3<") and Html(response.text).text == "3 open findings"


async def test_the_badge_costs_the_same_queries_with_many_keys(people_client, people, world, sent_statements):
    counts = []
    for n in (0, 12):
        for i in range(n):
            await issue(world.a, env="test" if i % 2 else "live", partner=world.a.globex)
        sent_statements.clear()
        response = await people_client.get(urls(world)["badge"], people.viewer)
        counts.append(len(sent_statements))
        assert response.status_code == 200
    assert response.text.startswith("14<")
    assert 0 < counts[0] == counts[1], counts


async def test_the_page_costs_the_same_queries_with_many_keys(people_client, people, world, sent_statements):
    counts = []
    for n in (0, 12):
        for _ in range(n):
            await issue(world.a, env="live", partner=world.a.globex)
        sent_statements.clear()
        response = await people_client.get(urls(world)["page"], people.admin)
        counts.append(len(sent_statements))
    assert "14 keys concerned" in Html(response.text).text
    assert 0 < counts[0] == counts[1], counts


# --- fixes ---------------------------------------------------------------------------------


async def test_deactivating_from_a_card_swaps_the_cards_and_the_badge_and_audits_it(people_client, people, world):
    ids = await fired(world)
    response = await people_client.post(urls(world, ids["test"])["deactivate"], people.admin, {"confirm": "yes"}, htmx="div#checks")
    assert response.status_code == 200 and response.headers["vary"] == "HX-Request"
    page = Html(response.text)
    assert not page.has_html_element and "checks" in page.ids
    assert re.search(r"tm_test_…\w{4} is deactivated\.", page.text)
    assert f"check-unused-keys-{ids['test']}" not in page.ids and "Unused keys still active? All good" in page.text
    assert badge(response.text) == "1" and 'hx-swap-oob="true"' in response.text  # it also left "plain text"
    key = await ApiKey.get(id=ids["test"])
    assert not key.active
    [event] = await events("key.deactivate", ids["test"])
    assert event.actor == people.admin.user_id


async def test_a_plain_form_fix_goes_back_to_the_page(people_client, people, world):
    ids = await fired(world)
    response = await people_client.post(urls(world, ids["test"])["deactivate"], people.owner, {"confirm": "yes"})
    assert response.status_code == 303 and response.headers["location"] == urls(world)["page"]
    assert not (await ApiKey.get(id=ids["test"])).active
    assert badge((await people_client.get(urls(world)["page"], people.owner)).text) == "1"


async def test_deactivate_all_listed_switches_off_each_key_with_its_own_audit_event(people_client, people, world):
    ids = await fired(world)
    response = await people_client.post(urls(world)["all"], people.admin, {"confirm": "yes", "ids": f"{ids['test']},{ids['live']}"}, htmx="div#checks")
    assert response.status_code == 200 and "2 keys are deactivated." in Html(response.text).text
    assert badge(response.text) == ""
    assert not any(k.active for k in await ApiKey.filter(id__in=list(ids.values())))
    for ident in ids.values():
        assert [e.actor for e in await events("key.deactivate", ident)] == [people.admin.user_id]


async def test_reactivating_a_key_the_idle_policy_switched_off(people_client, people, world):
    ids = await fired(world)
    await ApiKey.filter(id=ids["test"]).update(active=False, deactivated_reason="idle", deactivated_at=datetime.now(UTC))
    page = Html((await people_client.get(urls(world)["page"], people.admin)).text)
    assert "Keys the idle-key policy switched off 1 key" in page.text and "Reactivate…" in page.buttons
    response = await people_client.post(urls(world, ids["test"])["reactivate"], people.admin, {"confirm": "yes"}, htmx="div#checks")
    assert response.status_code == 200 and "works again" in Html(response.text).text
    assert (await ApiKey.get(id=ids["test"])).active and await events("key.reactivate", ids["test"])


async def test_handing_a_revealed_key_over_by_link_shows_the_link_once(people_client, people, world):
    ids = await fired(world)
    response = await people_client.post(urls(world, ids["live"])["replace"], people.admin, {"confirm": "yes"})
    page = Html(response.text)
    assert response.status_code == 200 and "Send this one-time link to Acme." in page.text
    assert re.search(r'value="http://[^"]+/claim/[^"]+"', response.text)
    key = await ApiKey.get(id=ids["live"])
    assert key.handover == "claim" and key.key_hash is None and key.previous_expires_at is not None
    assert await events("key.handover_by_link", ids["live"])


async def test_a_fix_without_its_confirmation_changes_nothing(people_client, people, world):
    ids = await fired(world)
    before = await snapshot()
    for route, data in (("deactivate", {}), ("replace", {}), ("all", {"ids": ids["test"]})):
        page = await people_client.post(urls(world, ids["test"])[route], people.admin, data)
        assert page.status_code == 422 and "Confirm the fix first" in Html(page.text).text
        fragment = await people_client.post(urls(world, ids["test"])[route], people.admin, data, htmx="div#checks")
        assert fragment.status_code == 422 and fragment.headers["hx-retarget"] == "#flash"
    assert await snapshot() == before


async def test_a_viewer_who_posts_anyway_is_refused_and_nothing_changes(people_client, people, world):
    ids = await fired(world)
    before = await snapshot()
    for route, data in (("deactivate", {"confirm": "yes"}), ("all", {"confirm": "yes", "ids": ids["test"]}), ("replace", {"confirm": "yes"})):
        assert (await people_client.post(urls(world, ids["test"])[route], people.viewer, data)).status_code == 403
    fragment = await people_client.post(urls(world, ids["test"])["deactivate"], people.viewer, {"confirm": "yes"}, htmx="div#checks")
    assert fragment.status_code == 403 and fragment.headers["hx-retarget"] == "#flash"
    assert "This needs the admin role; you are viewer." in fragment.text
    settings = await people_client.post(urls(world)["settings"], people.viewer, {"sharedKeyClients": "9", "unusedKeyDays": "9", "unusedPermissionDays": "9"})
    assert settings.status_code == 403
    assert (await people_client.post(urls(world, ids["live"])["reduce"], people.viewer, {"permissions": "CREATE"})).status_code == 403
    assert await snapshot() == before


# --- safety settings -----------------------------------------------------------------------


async def test_saving_the_settings_turns_the_idle_policy_on_and_audits_it(people_client, people, world):
    form = {"sharedKeyClients": "5", "unusedKeyDays": "60", "unusedPermissionDays": "14", "idle": "on", "idleKeyDays": "120"}
    response = await people_client.post(urls(world)["settings"], people.admin, form)
    assert response.status_code == 303 and response.headers["location"] == urls(world)["page"] + "?saved=settings#safety-settings"
    workspace = await Workspace.get(id=world.a.workspace)
    assert (workspace.shared_key_clients, workspace.unused_key_days, workspace.unused_permission_days, workspace.idle_key_days) == (5, 60, 14, 120)
    assert [e.actor for e in await events("workspace.safety_settings", world.a.workspace)] == [people.admin.user_id]
    page = Html((await people_client.get(urls(world)["page"] + "?saved=settings", people.admin)).text)
    assert "Saved. The checklist above uses the new settings." in page.text
    # Unticking the switch turns the policy off, whatever the days say.
    await people_client.post(urls(world)["settings"], people.owner, {**form, "idle": ""})
    assert (await Workspace.get(id=world.a.workspace)).idle_key_days is None


@pytest.mark.parametrize(("field", "value", "reason"), [("sharedKeyClients", "0", "Must be between 1 and"), ("unusedKeyDays", "soon", "Must be a whole number of days.")])
async def test_a_refused_setting_is_explained_next_to_its_field(people_client, people, world, field, value, reason):
    before = await snapshot()
    form = {"sharedKeyClients": "3", "unusedKeyDays": "30", "unusedPermissionDays": "30", field: value}
    response = await people_client.post(urls(world)["settings"], people.admin, form)
    page = Html(response.text)
    assert response.status_code == 422 and f"f-{field}-error" in page.ids and reason in page.text
    assert f'value="{value}"' in response.text  # what was typed stays
    assert await snapshot() == before


# --- the advisor ---------------------------------------------------------------------------


async def used_create_only(world) -> str:
    """A's live key: 45 days old, 30 creates writing customer and amount in the window."""
    ident = await key_id(world.a.keys["live"])
    await ApiKey.filter(id=ident).update(created_at=datetime.now(UTC) - timedelta(days=45))
    await shape(ident, TODAY - timedelta(days=2), "create", "amount,customer", 30)
    return ident


async def test_the_advisor_shows_what_a_key_used_and_a_dry_run_that_refuses_nothing(people_client, people, world):
    ident = await used_create_only(world)
    response = await people_client.get(urls(world, ident)["usage"], people.admin)
    assert response.status_code == 200
    secure_page(response)
    page = Html(response.text)
    assert "30 requests allowed" in page.text and "create 30 allowed granted" in page.text and "read 0 allowed granted · never used" in page.text
    assert "May create; writes amount, customer." in page.text
    assert "Dry run: none of its 30 requests since" in page.text and "Reduce the key to this" in page.buttons
    viewer = Html((await people_client.get(urls(world, ident)["usage"], people.viewer)).text)
    assert "Dry run: none of its 30 requests" in viewer.text and "Reduce the key to this" not in viewer.buttons


async def test_reducing_to_what_was_used_narrows_the_key_and_audits_it(people_client, people, world):
    ident = await used_create_only(world)
    form = {"permissions": "CREATE", "writableFields": "amount,customer"}
    response = await people_client.post(urls(world, ident)["reduce"], people.admin, form)
    assert response.status_code == 303 and response.headers["location"] == urls(world, ident)["usage"] + "?reduced=1"
    key = await ApiKey.get(id=ident)
    assert key.permissions == ["create"] and sorted(key.writable_fields) == ["amount", "customer"]
    assert [e.actor for e in await events("key.permissions", ident)] == [people.admin.user_id]
    page = Html((await people_client.get(response.headers["location"], people.admin)).text)
    assert "Permissions reduced." in page.text and "It uses everything it may: nothing to take away." in page.text


async def test_a_reduction_that_would_refuse_requests_warns_and_needs_an_explicit_yes(people_client, people, world):
    ident = await used_create_only(world)
    tried = await people_client.get(urls(world, ident)["usage"] + "?try=1&op=CREATE&field=customer", people.admin)
    page = Html(tried.text)
    assert "Dry run: 30 of its 30 requests since" in page.text and "Reduce anyway" in page.buttons
    assert "I understand that 30 requests like these would be refused from now on" in page.text
    form = {"permissions": "CREATE", "writableFields": "customer"}
    before = await snapshot()
    refused = await people_client.post(urls(world, ident)["reduce"], people.admin, form)
    assert refused.status_code == 400 and "30 of this key's 30 requests" in Html(refused.text).text
    assert await snapshot() == before
    accepted = await people_client.post(urls(world, ident)["reduce"], people.admin, {**form, "accept": "yes"})
    assert accepted.status_code == 303
    assert (await ApiKey.get(id=ident)).writable_fields == ["customer"]


# --- blast radius --------------------------------------------------------------------------


async def test_the_records_a_key_wrote_are_listed_and_exported_and_no_others(client, people_client, people, world):
    live = await key_id(world.a.keys["live"])
    mine = [(await gql_ok(client, world.a.keys["live"], CREATE, {"endpoint": world.a.orders, "data": {"customer": f"C{i}", "amount": i}}))["createRecord"]["id"] for i in range(3)]
    other = await issue(world.a, env="live", partner=world.a.globex)
    await gql_ok(client, other, CREATE, {"endpoint": world.a.orders, "data": {"customer": "Someone else", "amount": 1}})
    response = await people_client.get(urls(world, live)["records"], people.viewer)
    page = Html(response.text)
    assert response.status_code == 200 and all(f"C{i}" in page.text for i in range(3)) and "Someone else" not in page.text
    exported = await people_client.get(urls(world, live)["records"] + ".csv", people.viewer)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted(r["id"] for r in rows) == sorted(mine)
    as_json = await people_client.get(urls(world, live)["records"] + ".json", people.viewer)
    assert sorted(item["id"] for item in json.loads(as_json.text)) == sorted(mine)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    later = Html((await people_client.get(urls(world, live)["records"] + f"?since={tomorrow}", people.viewer)).text)
    assert "No records in this window." in later.text


# --- who may come in -----------------------------------------------------------------------


async def test_another_workspaces_member_gets_the_same_answer_as_for_no_workspace(people_client, people, world):
    ids = await fired(world)
    before = await snapshot()
    made_up = "/w/ws_madeupmadeupmadeup00/checklist"
    theirs = await people_client.get(urls(world)["page"], people.owner_b)
    nobodys = await people_client.get(made_up, people.owner_b)
    assert theirs.status_code == nobodys.status_code == 404 and Html(theirs.text).text == Html(nobodys.text).text
    for path in (urls(world)["badge"], urls(world, ids["test"])["usage"], urls(world, ids["test"])["records"]):
        assert (await people_client.get(path, people.owner_b)).status_code == 404
    for route in ("deactivate", "all", "replace", "settings", "reduce"):
        response = await people_client.post(urls(world, ids["test"])[route], people.owner_b, {"confirm": "yes", "ids": ids["test"], "sharedKeyClients": "9"})
        assert response.status_code == 404
    # B's key through A's address: as if it did not exist.
    b_key = await key_id(world.b.keys["test"])
    assert (await people_client.post(urls(world, b_key)["deactivate"], people.owner, {"confirm": "yes"})).status_code == 404
    assert (await people_client.get(urls(world, b_key)["usage"], people.owner)).status_code == 404
    assert (await people_client.get(urls(world, b_key)["records"], people.owner)).status_code == 404
    assert await snapshot() == before


@pytest.mark.parametrize("route", ["deactivate", "reactivate", "all", "replace", "settings", "reduce"])
async def test_posts_without_the_csrf_token_or_from_another_site_are_refused(people_client, people, world, route):
    ids = await fired(world)
    before = await snapshot()
    path, data = urls(world, ids["test"])[route], {"confirm": "yes", "ids": ids["test"], "sharedKeyClients": "9", "permissions": "CREATE"}
    assert (await people_client.post(path, people.owner, data, csrf=None)).status_code == 403
    assert (await people_client.post(path, people.owner, data, csrf="0" * 64)).status_code == 403
    assert (await people_client.post(path, people.owner, data, csrf="0" * 64, htmx="div#checks")).status_code == 403
    assert (await people_client.post(path, people.owner, data, csrf=people_client.csrf(people.admin))).status_code == 403
    assert (await people_client.post(path, people.owner, data, **{"Sec-Fetch-Site": "cross-site"})).status_code == 403
    assert await snapshot() == before


async def test_without_a_session_every_route_leads_to_sign_in(people_client, world):
    for path in (urls(world)["page"], urls(world)["badge"], urls(world, "key_x")["usage"], urls(world, "key_x")["records"]):
        response = await people_client.get(path, None)
        assert response.status_code == 303 and response.headers["location"] == "/login"
