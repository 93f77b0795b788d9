"""The keys screen over HTTP: pages, htmx fragments, roles, CSRF, and what each action changes."""

from __future__ import annotations

import re

import pytest

from server.dashboard.screens import csrf_token
from server.models import ApiKey
from tests.conftest import SECRET, key_id
from tests.people import people_fixture  # noqa: F401  (registers the `people` fixture)
from tests.people import session_headers, snapshot


def page_headers(token: str, **extra: str) -> dict[str, str]:
    return session_headers(token, **extra)


def post_headers(token: str, *, htmx: bool = False, csrf: str | None = None) -> dict[str, str]:
    headers = session_headers(token, **{"X-CSRF-Token": csrf if csrf is not None else csrf_token(SECRET, token)})
    if htmx:
        headers["HX-Request"] = "true"
    return headers


def keys_url(world, suffix: str = "") -> str:
    return f"/w/{world.a.workspace}/keys{suffix}"


async def test_the_list_is_a_full_page_and_the_filter_answers_with_the_table(client, world, people):
    page = await client.get(keys_url(world), headers=page_headers(people.viewer.token))
    assert page.status_code == 200 and page.headers["vary"] == "HX-Request"
    assert "<html" in page.text and page.text.count('<tr id="key-') == 2  # the test and live keys of `world`
    assert "content-security-policy" in page.headers and "<script>" not in page.text
    fragment = await client.get(
        keys_url(world, "?environment=LIVE"), headers=page_headers(people.viewer.token, **{"HX-Request": "true", "HX-Target": "div#key-table"})
    )
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert fragment.text.count('<tr id="key-') == 1 and "env-live" in fragment.text


async def test_buttons_follow_the_role(client, world, people):
    admin = (await client.get(keys_url(world), headers=page_headers(people.admin.token))).text
    viewer = (await client.get(keys_url(world), headers=page_headers(people.viewer.token))).text
    assert ">Issue a key</a>" in admin and ">Deactivate</button>" in admin
    assert ">Issue a key</a>" not in viewer and "hx-post" not in viewer and ">Deactivate</button>" not in viewer


async def test_signed_out_goes_to_sign_in_and_strangers_get_404(client, world, people):
    signed_out = await client.get(keys_url(world))
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/login"
    stranger = await client.get(keys_url(world), headers=page_headers(people.owner_b.token))
    assert stranger.status_code == 404 and "key_" not in stranger.text


async def test_issue_and_reveal_once(client, world, people):
    form = {
        "csrf": csrf_token(SECRET, people.admin.token),
        "partner": world.a.globex,
        "endpoint": world.a.orders,
        "environment": "LIVE",
        "permission-CREATE": "1",
        "writableFields": "customer, amount",
        "handover": "REVEAL",
    }
    response = await client.post(keys_url(world), data=form, headers=session_headers(people.admin.token))
    assert response.status_code == 200
    [secret] = re.findall(r"tm_live_[0-9A-Za-z]{36}", response.text)
    assert "only time this key is shown" in response.text
    key = await ApiKey.get(id=await key_id(secret))
    assert key.writable_fields == ["amount", "customer"] and key.permissions == ["create"] and key.handover == "reveal"
    detail = await client.get(keys_url(world, f"/{key.id}"), headers=page_headers(people.viewer.token))
    assert secret not in detail.text and "$THREEMIN_KEY" in detail.text and world.a.orders in detail.text


async def test_issue_by_claim_link_shows_the_link_not_a_key(client, world, people):
    form = {"csrf": csrf_token(SECRET, people.admin.token), "partner": world.a.acme, "endpoint": world.a.orders,
            "environment": "TEST", "permission-READ": "1", "handover": "CLAIM"}
    response = await client.post(keys_url(world), data=form, headers=session_headers(people.admin.token))
    assert response.status_code == 200 and "/claim/" in response.text
    assert not re.search(r"tm_(test|live)_[0-9A-Za-z]{36}", response.text)


async def test_refused_input_is_shown_next_to_its_field_and_nothing_is_issued(client, world, people):
    before = await ApiKey.all().count()
    token = people.admin.token
    form = {"csrf": csrf_token(SECRET, token), "partner": world.a.acme, "endpoint": world.a.orders,
            "environment": "TEST", "writableFields": "colour", "expiresAt": "2001-01-01", "handover": "REVEAL"}
    response = await client.post(keys_url(world), data=form, headers=session_headers(token))
    assert response.status_code == 422
    errors = re.findall(r'class="field-error"[^>]*>([^<]+)<', response.text)
    assert any("future" in e for e in errors) and any("create" in e.lower() for e in errors)
    assert 'value="colour"' in response.text  # what was typed is kept
    fixed = form | {"permission-CREATE": "1", "expiresAt": ""}
    response = await client.post(keys_url(world), data=fixed, headers=session_headers(token))
    assert response.status_code == 422
    assert any("colour" in e for e in re.findall(r'class="field-error"[^>]*>([^<]+)<', response.text))
    assert await ApiKey.all().count() == before


async def test_deactivate_swaps_only_that_row_and_takes_effect(client, world, people):
    ident = await key_id(world.a.keys["test"])
    row = await client.post(keys_url(world, f"/{ident}/deactivate"), headers=post_headers(people.admin.token, htmx=True))
    assert row.status_code == 200 and row.text.strip().startswith(f'<tr id="key-{ident}"') and "Reactivate" in row.text
    used = await client.post("/graphql", json={"query": "{ viewer { kind } }"}, headers={"Authorization": f"Bearer {world.a.keys['test']}"})
    assert used.json()["errors"][0]["extensions"]["code"] == "KEY_DISABLED"
    plain = await client.post(keys_url(world, f"/{ident}/reactivate"), data={"csrf": csrf_token(SECRET, people.admin.token)}, headers=session_headers(people.admin.token))
    assert plain.status_code == 303 and plain.headers["location"] == keys_url(world)
    assert (await ApiKey.get(id=ident)).active


@pytest.mark.parametrize("csrf", ["", "forged"])
async def test_a_missing_or_wrong_csrf_token_changes_nothing(client, world, people, csrf):
    ident = await key_id(world.a.keys["test"])
    before = await snapshot()
    response = await client.post(keys_url(world, f"/{ident}/deactivate"), headers=post_headers(people.admin.token, htmx=True, csrf=csrf))
    assert response.status_code == 403 and await snapshot() == before


async def test_a_cross_site_post_changes_nothing_even_with_the_token(client, world, people):
    ident = await key_id(world.a.keys["test"])
    headers = post_headers(people.admin.token, htmx=True) | {"Sec-Fetch-Site": "cross-site"}
    response = await client.post(keys_url(world, f"/{ident}/deactivate"), headers=headers)
    assert response.status_code == 403 and (await ApiKey.get(id=ident)).active


async def test_a_viewer_posting_anyway_is_refused_and_the_page_stays_usable(client, world, people):
    ident = await key_id(world.a.keys["test"])
    before = await snapshot()
    response = await client.post(keys_url(world, f"/{ident}/deactivate"), headers=post_headers(people.viewer.token, htmx=True))
    assert response.status_code == 403 and response.headers["hx-retarget"] == "#flash"
    assert "admin" in response.text and "<html" not in response.text
    assert await snapshot() == before


async def test_roll_shows_the_new_secret_once_and_keeps_the_old_for_the_grace(client, world, people):
    ident = await key_id(world.a.keys["test"])
    form = {"csrf": csrf_token(SECRET, people.admin.token), "grace": "ONE_HOUR"}
    response = await client.post(keys_url(world, f"/{ident}/roll"), data=form, headers=session_headers(people.admin.token))
    [secret] = re.findall(r"tm_test_[0-9A-Za-z]{36}", response.text)
    assert secret != world.a.keys["test"] and "keeps working until" in response.text
    for key in (secret, world.a.keys["test"]):
        ok = await client.post("/graphql", json={"query": "{ viewer { kind } }"}, headers={"Authorization": f"Bearer {key}"})
        assert ok.json()["data"]["viewer"]["kind"] == "KEY"


async def test_delete_needs_the_confirmation_box(client, world, people):
    ident = await key_id(world.a.keys["live"])
    token = people.admin.token
    unconfirmed = await client.post(keys_url(world, f"/{ident}/delete"), data={"csrf": csrf_token(SECRET, token)}, headers=session_headers(token))
    assert unconfirmed.status_code == 422 and await ApiKey.exists(id=ident)
    confirmed = await client.post(
        keys_url(world, f"/{ident}/delete"), data={"csrf": csrf_token(SECRET, token), "confirm": "yes"}, headers=session_headers(token)
    )
    assert confirmed.status_code == 303 and not await ApiKey.exists(id=ident)


async def test_the_issue_form_preselects_what_the_link_names(client, world, people):
    url = keys_url(world, f"/new?partner={world.a.globex}&endpoint={world.a.leads}&environment=LIVE")
    page = (await client.get(url, headers=page_headers(people.admin.token))).text
    assert f'<option value="{world.a.globex}" selected>' in page and f'<option value="{world.a.leads}" selected>' in page
    assert re.search(r'value="LIVE" checked', page)
