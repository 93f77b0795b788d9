"""The endpoints screens: list, create and edit with the fields editor, archive.

Workspace A (tests/conftest.py `world`) has endpoints orders (customer,
amount, note) and leads (email); `people` are its owner, admin and viewers,
and B's owner. Only owners change endpoints: the API says so, and the pages
show nobody else a button for it.
"""

from __future__ import annotations

import re

import pytest

from server.dashboard import endpoints
from server.dashboard.pages import Outcome
from server.models import Endpoint, Membership
from server.policy import OPERATOR
from server.services import workspaces
from server.services.audit import CLI
from tests.dashboard.conftest import Html
from tests.people import make_person, snapshot
from tests.test_pages import secure_page

ROW_NAME = re.compile(r'name="(row-[A-Za-z0-9]+)-name" value="([^"]*)"')


def urls(world) -> dict[str, str]:
    base = f"/w/{world.a.workspace}/endpoints"
    return {
        "list": base,
        "new": f"{base}/new",
        "row": f"{base}/new/field",
        "edit": f"{base}/{world.a.orders}/edit",
        "archive": f"{base}/{world.a.orders}/archive",
        "page": f"{base}/{world.a.orders}",
    }


def row_form(name: str, *rows: dict[str, str], **extra: str) -> dict[str, str]:
    """The editor's form: rows get keys r0, r1… in order."""
    form = {"name": name}
    for i, row in enumerate(rows):
        form |= {f"row-r{i}-{part}": value for part, value in row.items()}
    return form | extra


def rows_on(html: str) -> list[tuple[str, str]]:
    """(row key, field name) of each editor row, in page order."""
    return ROW_NAME.findall(html)


def row_error(html: str, key: str) -> str:
    """The error text shown inside one row of the editor."""
    match = re.search(rf'<p class="field-error" id="{key}-error">([^<]*)</p>', html)
    return match.group(1) if match else ""


# --- the list ----------------------------------------------------------------------------


async def test_the_list_shows_each_endpoint_with_its_fields_and_owners_their_buttons(people_client, people, world):
    response = await people_client.get(urls(world)["list"], people.owner)
    assert response.status_code == 200 and response.headers["vary"] == "HX-Request"
    secure_page(response)
    page = Html(response.text)
    assert page.has_html_element and "endpoint-table" in page.ids
    assert "orders" in page.text and "customer string, required, ≤ 50 characters" in page.text
    assert "amount number, required, ≥ 0" in page.text and "email email, required" in page.text
    assert urls(world)["new"] in page.links and urls(world)["edit"] in page.links
    assert "screens-data.css" in response.text


@pytest.mark.parametrize("role", ["admin", "viewer"])
async def test_admins_and_viewers_read_the_list_without_buttons(people_client, people, world, role):
    page = Html((await people_client.get(urls(world)["list"], getattr(people, role))).text)
    assert "orders" in page.text and urls(world)["page"] in page.links
    assert urls(world)["new"] not in page.links and urls(world)["edit"] not in page.links
    assert not [action for action in page.actions if "/endpoints" in action]


async def test_the_list_answers_htmx_with_just_the_table(people_client, people, world):
    response = await people_client.get(urls(world)["list"] + "?archived=1", people.viewer, htmx="div#endpoint-table")
    assert response.status_code == 200 and response.headers["vary"] == "HX-Request"
    page = Html(response.text)
    assert not page.has_html_element and "endpoint-table" in page.ids and "orders" in page.text


async def test_a_history_restore_gets_the_whole_page(people_client, people, world):
    # htmx asks for the body when it restores a page from history: the fragment would break the page.
    response = await people_client.get(urls(world)["list"], people.viewer, htmx="body", **{"HX-History-Restore-Request": "true"})
    assert Html(response.text).has_html_element


async def test_archived_endpoints_are_hidden_unless_asked_for(people_client, people, world):
    await workspaces.archive_endpoint(OPERATOR, world.a.leads, CLI)
    hidden = Html((await people_client.get(urls(world)["list"], people.owner)).text)
    assert "leads" not in hidden.text and "Show archived endpoints" in hidden.text
    shown = Html((await people_client.get(urls(world)["list"] + "?archived=1", people.owner)).text)
    assert "leads" in shown.text and "archived 20" in shown.text and "Hide archived" in shown.text
    assert f"{urls(world)['list']}/{world.a.leads}/edit" not in shown.links  # nothing left to edit


async def test_with_no_endpoint_the_list_says_what_to_do_next(people_client, settings, world):
    fresh = await workspaces.create_workspace("Fresh", CLI)
    owner = await make_person(settings, fresh.id, "owner", "new@fresh.example")
    viewer = await make_person(settings, fresh.id, "viewer", "look@fresh.example")
    page = Html((await people_client.get(f"/w/{fresh.id}/endpoints", owner)).text)
    assert "No endpoints yet. Create one with the fields your partners will send" in page.text
    assert f"/w/{fresh.id}/endpoints/new" in page.links
    page = Html((await people_client.get(f"/w/{fresh.id}/endpoints", viewer)).text)
    assert "Only an owner of this workspace can create endpoints" in page.text
    assert f"/w/{fresh.id}/endpoints/new" not in page.links


# --- who may see what ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["list", "new", "row", "edit"])
async def test_without_a_session_every_page_sends_to_sign_in(people_client, world, name):
    response = await people_client.get(urls(world)[name], None)
    assert response.status_code == 303 and response.headers["location"] == "/login"


@pytest.mark.parametrize("name", ["list", "new", "row", "edit"])
async def test_a_member_of_another_workspace_finds_nothing(people_client, people, world, name):
    response = await people_client.get(urls(world)[name], people.owner_b)
    assert response.status_code == 404


async def test_an_endpoint_of_another_workspace_is_not_found_here(people_client, people, world):
    response = await people_client.get(f"/w/{world.a.workspace}/endpoints/{world.b.orders}/edit", people.owner)
    assert response.status_code == 404


@pytest.mark.parametrize("role", ["admin", "viewer"])
@pytest.mark.parametrize("name", ["new", "edit"])
async def test_only_owners_get_the_forms(people_client, people, world, role, name):
    response = await people_client.get(urls(world)[name], getattr(people, role))
    assert response.status_code == 403 and "Only an owner" in response.text


@pytest.mark.parametrize("role", ["admin", "viewer"])
@pytest.mark.parametrize("name", ["list", "new", "edit"])
async def test_posting_anyway_is_refused_by_the_api(people_client, people, world, role, name):
    before = await snapshot()
    form = row_form("sneaky", {"name": "x", "type": "STRING"}, confirm="yes")
    path = {"list": urls(world)["list"], "new": urls(world)["list"], "edit": urls(world)["edit"]}[name]
    response = await people_client.post(path, getattr(people, role), form)
    assert response.status_code == 403
    archived = await people_client.post(urls(world)["archive"], getattr(people, role), {"confirm": "yes"})
    assert archived.status_code == 403
    assert await snapshot() == before


async def test_posting_to_another_workspace_is_not_found(people_client, people, world):
    form = row_form("orders", {"name": "x", "type": "STRING"})
    assert (await people_client.post(urls(world)["edit"], people.owner_b, form)).status_code == 404
    assert (await people_client.post(urls(world)["list"], people.owner_b, form)).status_code == 404
    assert (await people_client.post(urls(world)["archive"], people.owner_b, {"confirm": "yes"})).status_code == 404


@pytest.mark.parametrize("token", [None, "forged"])
async def test_a_post_without_the_right_csrf_token_is_refused(people_client, people, world, token):
    before = await snapshot()
    form = row_form("shipments", {"name": "tracking", "type": "STRING"})
    for path in (urls(world)["list"], urls(world)["edit"], urls(world)["archive"]):
        response = await people_client.post(path, people.owner, form | {"confirm": "yes"}, csrf=token)
        assert response.status_code == 403 and "Request refused" in response.text
    assert await snapshot() == before


async def test_a_post_from_another_site_is_refused(people_client, people, world):
    before = await snapshot()
    form = row_form("shipments", {"name": "tracking", "type": "STRING"})
    response = await people_client.post(urls(world)["list"], people.owner, form, **{"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert await snapshot() == before


# --- create --------------------------------------------------------------------------------


async def test_the_new_form_has_one_empty_row(people_client, people, world):
    response = await people_client.get(urls(world)["new"], people.owner)
    assert response.status_code == 200
    page = secure_page(response)
    assert len(rows_on(response.text)) == 1 and page.values["name"] == "" and page.values["csrf"]
    assert any(button.endswith("Add field") for button in Html(response.text).buttons)


async def test_creating_an_endpoint_goes_to_its_page(people_client, people, world):
    form = row_form(
        "shipments",
        {"name": "tracking", "type": "STRING", "required": "1", "min": "4", "max": "40"},
        {"name": "weight", "type": "NUMBER", "min": "0.5", "max": ""},
        {"name": "", "type": "STRING", "min": "", "max": ""},  # left over from "Add field"
    )
    response = await people_client.post(urls(world)["list"], people.owner, form)
    assert response.status_code == 303
    created = await Endpoint.get(workspace_id=world.a.workspace, name="shipments")
    assert response.headers["location"] == f"/w/{world.a.workspace}/endpoints/{created.id}"
    assert created.fields == [
        {"name": "tracking", "type": "string", "required": True, "min_length": 4, "max_length": 40},
        {"name": "weight", "type": "number", "required": False, "min": 0.5},
    ]


async def test_add_field_without_script_posts_back_one_more_row_keeping_what_was_typed(people_client, people, world):
    form = row_form("shipments", {"name": "tracking", "type": "INTEGER", "required": "1", "min": "1", "max": "9"}, add="1")
    response = await people_client.post(urls(world)["list"], people.owner, form)
    assert response.status_code == 200
    rows = rows_on(response.text)
    assert [name for _, name in rows] == ["tracking", ""]
    page = secure_page(response)
    assert page.values["name"] == "shipments" and page.values["row-r0-min"] == "1" and page.values["row-r0-max"] == "9"
    assert 'value="INTEGER" selected' in response.text and 'name="row-r0-required" value="1" checked' in response.text
    assert f'{rows[1][0]}-name" value="" autocomplete="off" spellcheck="false" maxlength="64" autofocus' in response.text
    assert not await Endpoint.filter(name="shipments").exists()


async def test_remove_posts_back_without_that_row(people_client, people, world):
    form = row_form("shipments", {"name": "a", "type": "STRING"}, {"name": "b", "type": "STRING"}, remove="r0")
    response = await people_client.post(urls(world)["list"], people.owner, form)
    assert response.status_code == 200 and [name for _, name in rows_on(response.text)] == ["b"]


async def test_add_field_with_htmx_fetches_just_one_row(people_client, people, world):
    response = await people_client.get(urls(world)["row"], people.owner, htmx="div#field-rows")
    assert response.status_code == 200 and response.headers["vary"] == "HX-Request"
    assert not Html(response.text).has_html_element and len(rows_on(response.text)) == 1
    again = await people_client.get(urls(world)["row"], people.owner, htmx="div#field-rows")
    assert rows_on(again.text)[0][0] != rows_on(response.text)[0][0]  # rows never share input names


async def test_errors_from_the_api_are_shown_next_to_their_row_with_422(people_client, people, world):
    form = row_form(
        "shipments",
        {"name": "tracking", "type": "STRING"},
        {"name": "2bad", "type": "STRING"},  # the API names it fields[1]
        {"name": "weight", "type": "NUMBER", "min": "10", "max": "1"},  # named by its name
        {"name": "tracking", "type": "STRING"},  # defined twice: the later row is marked
    )
    response = await people_client.post(urls(world)["list"], people.owner, form)
    assert response.status_code == 422
    text = response.text
    assert row_error(text, "row-r0") == ""
    assert row_error(text, "row-r1").startswith("Name must be letters, digits and _")
    assert row_error(text, "row-r2") == "The minimum is above the maximum."
    assert row_error(text, "row-r3") == "Tracking is defined twice."
    assert 'id="row-r1-name" name="row-r1-name" value="2bad"' in text and 'aria-describedby="row-r1-error"' in text
    assert "Not saved: correct what is marked below." in text
    assert not await Endpoint.filter(name="shipments").exists()


async def test_a_bad_endpoint_name_is_shown_at_the_name(people_client, people, world):
    response = await people_client.post(urls(world)["list"], people.owner, row_form("orders", {"name": "x", "type": "STRING"}))
    assert response.status_code == 422
    page = secure_page(response)
    assert page.text_of["f-name-error"].strip() == "An endpoint with this name exists."
    assert page.values["row-r0-name"] == "x"


async def test_a_field_called_name_is_not_taken_for_the_endpoints_name(people_client, people, world):
    form = row_form("people", {"name": "name", "type": "BOOLEAN", "min": "1"})
    response = await people_client.post(urls(world)["list"], people.owner, form)
    assert response.status_code == 422
    assert row_error(response.text, "row-r0") == "Min / max apply to integer and number fields only."
    assert "f-name-error" not in response.text


async def test_no_field_at_all_is_shown_at_the_fields(people_client, people, world):
    response = await people_client.post(urls(world)["list"], people.owner, row_form("empty", {"name": "", "type": "STRING"}))
    assert response.status_code == 422
    assert secure_page(response).text_of["fields-error"].strip() == "Fields: Must be a non-empty list."


async def test_limits_that_are_not_numbers_are_refused_before_the_api(people_client, people, world):
    form = row_form("shipments", {"name": "code", "type": "STRING", "min": "1.5"}, {"name": "n", "type": "NUMBER", "max": "lots"})
    response = await people_client.post(urls(world)["list"], people.owner, form)
    assert response.status_code == 422
    assert row_error(response.text, "row-r0") == "Min and max must be whole numbers (a length)."
    assert row_error(response.text, "row-r1") == "Min and max must be numbers."
    assert secure_page(response).values["row-r1-max"] == "lots"


async def test_an_endpoint_with_many_fields_can_be_created(people_client, people, world):
    rows = [{"name": f"f{i}", "type": "STRING", "min": "", "max": ""} for i in range(5)]
    response = await people_client.post(urls(world)["list"], people.owner, row_form("wide", *rows))
    assert response.status_code == 303


# --- edit and archive -------------------------------------------------------------------------


async def test_the_edit_form_holds_the_endpoint_as_it_is(people_client, people, world):
    response = await people_client.get(urls(world)["edit"], people.owner)
    assert response.status_code == 200
    page = secure_page(response)
    assert page.values["name"] == "orders"
    assert [name for _, name in rows_on(response.text)] == ["customer", "amount", "note"]
    customer, amount, _ = (key for key, _ in rows_on(response.text))
    assert (page.values[f"{customer}-min"], page.values[f"{customer}-max"]) == ("", "50")
    assert (page.values[f"{amount}-min"], page.values[f"{amount}-max"]) == ("0", "")
    assert f"/w/{world.a.workspace}/endpoints/{world.a.orders}/archive" in Html(response.text).actions


async def test_editing_renames_and_replaces_the_fields(people_client, people, world):
    form = row_form("purchases", {"name": "customer", "type": "STRING", "required": "1", "max": "80"}, {"name": "total", "type": "INTEGER", "min": "1"})
    response = await people_client.post(urls(world)["edit"], people.owner, form)
    assert response.status_code == 303 and response.headers["location"] == urls(world)["page"]
    endpoint = await Endpoint.get(id=world.a.orders)
    assert endpoint.name == "purchases"
    assert endpoint.fields == [
        {"name": "customer", "type": "string", "required": True, "max_length": 80},
        {"name": "total", "type": "integer", "required": False, "min": 1},
    ]


async def test_an_edit_the_api_refuses_keeps_what_was_typed(people_client, people, world):
    form = row_form("leads", {"name": "customer", "type": "STRING", "max": "3"})
    response = await people_client.post(urls(world)["edit"], people.owner, form)
    assert response.status_code == 422
    page = secure_page(response)
    assert page.text_of["f-name-error"].strip() == "An endpoint with this name exists."
    assert page.values["name"] == "leads" and page.values["row-r0-max"] == "3"
    assert (await Endpoint.get(id=world.a.orders)).name == "orders"


async def test_archiving_needs_the_box_ticked(people_client, people, world):
    response = await people_client.post(urls(world)["archive"], people.owner, {})
    assert response.status_code == 422
    assert "Tick the box to confirm" in secure_page(response).text_of["confirm-error"]
    assert (await Endpoint.get(id=world.a.orders)).archived_at is None


async def test_archiving_takes_it_off_the_list(people_client, people, world):
    response = await people_client.post(urls(world)["archive"], people.owner, {"confirm": "yes"})
    assert response.status_code == 303 and response.headers["location"] == urls(world)["list"]
    assert (await Endpoint.get(id=world.a.orders)).archived_at is not None
    assert "orders" not in Html((await people_client.get(urls(world)["list"], people.owner)).text).text


async def test_a_demoted_owner_loses_the_buttons_at_once(people_client, people, world):
    await Membership.filter(user_id=people.owner.user_id).update(role="viewer")
    page = Html((await people_client.get(urls(world)["list"], people.owner)).text)
    assert urls(world)["new"] not in page.links


# --- the parts, without a request ---------------------------------------------------------------


def test_rows_keep_the_order_the_browser_sent():
    form = {"row-b-name": "second", "row-a-name": "first", "row-a-required": "1", "row-b-type": "URL", "name": "x", "csrf": "t"}
    rows = endpoints.rows_from_form(form)
    assert [(r.key, r.name, r.type, r.required) for r in rows] == [("b", "second", "URL", False), ("a", "first", "STRING", True)]


def test_limits_mean_lengths_for_strings_and_values_for_numbers():
    rows = [
        endpoints.Row("a", "s", "STRING", min="1", max="10"),
        endpoints.Row("b", "n", "NUMBER", min="-2.5", max="1e3"),
        endpoints.Row("c", "", "STRING"),
    ]
    inputs, sent, problems = endpoints.field_inputs(rows)
    assert inputs == [
        {"name": "s", "type": "STRING", "required": False, "minLength": 1, "maxLength": 10},
        {"name": "n", "type": "NUMBER", "required": False, "min": -2.5, "max": 1000.0},
    ]
    assert [r.key for r in sent] == ["a", "b"] and problems == {}


def test_an_unknown_place_in_an_error_goes_to_the_top():
    outcome = Outcome(None, [{"message": "x", "extensions": {"code": "VALIDATION_FAILED", "fields": {"somewhere": "is odd"}}}], "r")
    assert endpoints.place_errors(outcome, []) == {"_form": "somewhere is odd"}
