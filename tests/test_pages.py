"""The HTML pages people and partners open: sign-in, setup and invitation links, claim links, home.

Driven from the outside like a browser would (form posts, cookies, the
Fetch-Metadata header a browser adds), on a real migrated database. The
`threemin` commands that lead to these pages (the setup link printed by
`serve`, `createuser`) are at the end.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from server.auth import SESSION_COOKIE
from server.dashboard.pages import FORM_LIMIT
from server.keys import Environment
from server.models import (
    ApiKey,
    ClaimLink,
    Invitation,
    Membership,
    Session,
    User,
    Workspace,
)
from server.policy import OPERATOR, Role
from server.services import accounts, members, workspaces
from server.services import keys as key_service
from server.services.audit import CLI
from server.services.keys import Handover, KeyGrant
from tests.conftest import ALL, gql
from tests.test_cli import THREEMIN, free_port

PASSWORD = "correct horse battery"
SAME_ORIGIN = {"sec-fetch-site": "same-origin"}
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
KEY = re.compile(r"\btm_(test|live)_[0-9A-Za-z]{36}\b")
VIEWER = "{ viewer { kind key { environment endpoint { id } } } }"


class Page(HTMLParser):
    """What the tests look for in a page: field values, inline code, text by element id."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.values: dict[str, str] = {}  # input name (or id) -> value
        self.inline: list[str] = []  # anything a strict CSP would block
        self.text_of: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "input":
            self.values[a.get("name") or a.get("id") or "?"] = a.get("value") or ""
        if tag == "style" or "style" in a or any(name.startswith("on") for name in a):
            self.inline.append(f"<{tag} {a}>")
        if tag == "script" and not a.get("src"):
            self.inline.append("<script> without src")
        if any((value or "").strip().lower().startswith("javascript:") for value in a.values()):
            self.inline.append(f"javascript: URL in <{tag}>")
        self._open.append((tag, a.get("id")))

    def handle_endtag(self, tag: str) -> None:
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1][0] == "script" and data.strip():
            self.inline.append("<script> with a body")
        for _, element_id in self._open:
            if element_id:
                self.text_of[element_id] = self.text_of.get(element_id, "") + data


def secure_page(response: httpx.Response) -> Page:
    """Every page: the strict CSP and the other headers, and nothing inline for it to block."""
    headers = response.headers
    assert headers["content-security-policy"] == CSP
    assert (headers["x-frame-options"], headers["x-content-type-options"]) == ("DENY", "nosniff")
    assert (headers["referrer-policy"], headers["cache-control"]) == ("no-referrer", "no-store")
    page = Page(response.text)
    assert page.inline == [], page.inline
    return page


async def owner(settings, email: str = "ada@example.com") -> tuple[User, Workspace]:
    user = await accounts.create_user(email, "Ada", PASSWORD, settings)
    workspace = await workspaces.create_workspace("Acme", CLI)
    await Membership.create(workspace_id=workspace.id, user_id=user.id, role="owner")
    return user, workspace


async def sign_in(client: httpx.AsyncClient, email: str = "ada@example.com", password: str = PASSWORD, **headers: str) -> httpx.Response:
    return await client.post("/login", data={"email": email, "password": password}, headers=headers or SAME_ORIGIN)


async def claim_link(world, settings, env: str = "test") -> tuple[str, str]:
    """The path of a new key's claim link, and the key's id."""
    tenant = world.a
    grant = KeyGrant.parse(ALL)
    issued = await key_service.issue_key(OPERATOR, tenant.workspace, tenant.acme, tenant.orders, Environment(env), grant, Handover.CLAIM, settings, CLI)
    assert issued.claim_url and issued.secret is None
    return urlsplit(issued.claim_url).path, issued.key.id


# --- signing in and out ---------------------------------------------------------------


async def test_sign_in_sets_an_http_only_lax_session_cookie_and_lands_home(client, settings):
    await owner(settings)
    form = secure_page(await client.get("/login"))
    assert {"email", "password"} <= set(form.values)
    response = await sign_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Path=/" in cookie and f"Max-Age={settings.session_max_hours * 3600}" in cookie and "Secure" not in cookie
    secure_page(response)
    home = await client.get("/")
    assert home.status_code == 200 and "Signed in as Ada" in home.text and "Acme" in home.text
    secure_page(home)
    await sign_in(client)  # again in the same browser: the first session ends, it does not linger
    assert await Session.all().count() == 1


async def test_the_session_cookie_is_secure_over_https(app, settings):
    await owner(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://testserver") as client:
        response = await sign_in(client)
    assert response.status_code == 303 and "; Secure" in response.headers["set-cookie"]


async def test_wrong_password_and_unknown_email_get_the_same_answer(client, settings):
    await owner(settings)
    wrong = await sign_in(client, password="not the password")
    unknown = await sign_in(client, email="bob@example.com")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.text.replace("ada@example.com", "E") == unknown.text.replace("bob@example.com", "E")
    page = secure_page(wrong)
    assert "Wrong email or password." in wrong.text and page.values["email"] == "ada@example.com"
    assert page.values["password"] == "" and "not the password" not in wrong.text
    assert "set-cookie" not in wrong.headers and await Session.all().count() == 0


@pytest.mark.parametrize(
    "headers",
    [{"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"}, {"origin": "https://evil.example"}, {"origin": "null"}, {}],
    ids=["cross-site", "same-site", "foreign-origin", "null-origin", "no-origin"],
)
async def test_a_sign_in_from_another_site_is_refused(client, settings, headers):
    await owner(settings)
    response = await client.post("/login", data={"email": "ada@example.com", "password": PASSWORD}, headers=headers)
    assert response.status_code == 403 and "another site" in response.text
    secure_page(response)
    assert "set-cookie" not in response.headers and await Session.all().count() == 0


async def test_a_matching_origin_is_enough_without_fetch_metadata(client, settings):
    await owner(settings)
    assert (await sign_in(client, origin="http://testserver")).status_code == 303


async def test_sign_out_ends_the_session_for_good(client, settings):
    await owner(settings)
    await sign_in(client)
    token = client.cookies[SESSION_COOKIE]
    assert (await gql(client, None, VIEWER, **SAME_ORIGIN)).json()["data"]["viewer"]["kind"] == "USER"
    assert (await client.post("/logout")).status_code == 403  # no Fetch-Metadata: could be a forged form
    response = await client.post("/logout", headers=SAME_ORIGIN)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert f'{SESSION_COOKIE}=""' in response.headers["set-cookie"] and SESSION_COOKIE not in client.cookies
    assert await Session.all().count() == 0
    client.cookies.set(SESSION_COOKIE, token)  # someone kept a copy of the old cookie
    assert (await gql(client, None, VIEWER, **SAME_ORIGIN)).status_code == 401
    home = await client.get("/")
    assert home.status_code == 303 and home.headers["location"] == "/login"


async def test_home_without_a_session_goes_to_sign_in(client):
    response = await client.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    client.cookies.set(SESSION_COOKIE, "forged")
    response = await client.get("/")
    assert response.status_code == 303 and "Max-Age=0" in response.headers["set-cookie"]


# --- setup and invitation links ---------------------------------------------------------


async def test_the_setup_link_creates_the_owner_and_workspace_once(client, settings):
    path = urlsplit(await members.setup_link(settings)).path
    form = secure_page(await client.get(path))
    assert {"workspaceName", "name", "email", "password"} <= set(form.values)
    fields = {"workspaceName": "Acme", "name": "Ada", "email": "ada@example.com", "password": "short"}
    refused = await client.post(path, data=fields, headers=SAME_ORIGIN)
    assert refused.status_code == 422 and "short" not in refused.text
    page = secure_page(refused)
    assert "at least 10 characters" in page.text_of["f-password-error"] and page.values["email"] == "ada@example.com"
    assert await User.all().count() == 0
    forged = await client.post(path, data=fields | {"password": PASSWORD}, headers={"sec-fetch-site": "cross-site"})
    assert forged.status_code == 403 and await User.all().count() == 0

    response = await client.post(path, data=fields | {"password": PASSWORD}, headers=SAME_ORIGIN)
    assert response.status_code == 303 and SESSION_COOKIE in response.headers["set-cookie"]
    user = await User.get(email="ada@example.com")
    workspace = await Workspace.get(name="Acme")
    assert (await Membership.get(user_id=user.id)).workspace_id == workspace.id
    assert (await Membership.get(user_id=user.id)).role == "owner"
    assert "Signed in as Ada" in (await client.get("/")).text

    for again in (await client.get(path), await client.post(path, data=fields | {"email": "eve@example.com", "password": PASSWORD}, headers=SAME_ORIGIN)):
        assert again.status_code == 404 and "used or has expired" in again.text
        secure_page(again)
    assert await User.all().count() == 1


async def test_an_invitation_joins_with_its_role_once(client, settings):
    _, workspace = await owner(settings)
    url, _ = await members.invite(OPERATOR, workspace.id, "bob@example.com", Role.ADMIN, settings, CLI)
    path = urlsplit(url).path
    shown = await client.get(path)
    page = secure_page(shown)
    assert "Join Acme" in shown.text and "admin:" in shown.text and page.values["f-email"] == "bob@example.com"
    assert "email" not in page.values  # fixed by the invitation, not a form field

    response = await client.post(path, data={"name": "Bob", "password": PASSWORD, "email": "eve@example.com"}, headers=SAME_ORIGIN)
    assert response.status_code == 303
    bob = await User.get(email="bob@example.com")
    assert (await Membership.get(user_id=bob.id, workspace_id=workspace.id)).role == "admin"
    assert not await User.exists(email="eve@example.com")
    again = await client.post(path, data={"name": "Bob", "password": PASSWORD}, headers=SAME_ORIGIN)
    assert again.status_code == 404 and (await client.get(path)).status_code == 404


async def test_joining_with_an_existing_account_needs_its_password(client, settings):
    _, workspace = await owner(settings)
    url, _ = await members.invite(OPERATOR, workspace.id, "ada@example.com", Role.VIEWER, settings, CLI)
    refused = await client.post(urlsplit(url).path, data={"name": "Ada", "password": "a guessed password"}, headers=SAME_ORIGIN)
    assert refused.status_code == 422 and "enter its password" in secure_page(refused).text_of["f-password-error"]
    assert "set-cookie" not in refused.headers


async def test_expired_and_unknown_links_show_the_same_404_page(client, settings, world):
    _, workspace = await owner(settings)
    url, invitation = await members.invite(OPERATOR, workspace.id, "bob@example.com", Role.ADMIN, settings, CLI)
    await Invitation.filter(id=invitation.id).update(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    expired, unknown = await client.get(urlsplit(url).path), await client.get("/invite/not-a-real-token")
    assert expired.status_code == unknown.status_code == 404 and expired.text == unknown.text
    secure_page(expired)

    path, key_id = await claim_link(world, settings)
    await ClaimLink.filter(key_id=key_id).update(expires_at=datetime.now(UTC) - timedelta(minutes=1))
    for response in (await client.get(path), await client.post(path, headers=SAME_ORIGIN)):
        assert response.status_code == 404 and "expired" in response.text and not KEY.search(response.text)
    assert (await ApiKey.get(id=key_id)).key_hash is None


# --- claim links --------------------------------------------------------------------------


async def test_a_claim_link_shows_the_key_once_and_only_on_confirmation(client, settings, world):
    path, key_id = await claim_link(world, settings)
    responses = [await client.get(path), await client.head(path), await client.get(path)]
    page = secure_page(responses[0])
    assert responses[0].status_code == 200 and "Reveal my key" in responses[0].text
    assert "Acme" in responses[0].text and "orders" in responses[0].text and ">TEST<" in responses[0].text
    assert "expires" in responses[0].text.lower() and not KEY.search(responses[0].text)
    assert (await ApiKey.get(id=key_id)).key_hash is None  # opening the link (a mail preview, a scanner) mints nothing
    assert (await client.post(path, headers={"sec-fetch-site": "cross-site"})).status_code == 403
    assert (await ApiKey.get(id=key_id)).key_hash is None

    revealed = await client.post(path, headers=SAME_ORIGIN)
    responses.append(revealed)
    page = secure_page(revealed)
    key = page.text_of["key"].strip()
    assert revealed.status_code == 200 and KEY.fullmatch(key) and key.startswith("tm_test_")
    assert "only time" in revealed.text and 'Authorization: Bearer $THREEMIN_KEY' in revealed.text
    assert settings.base_url + "/graphql" in revealed.text and world.a.orders in revealed.text
    assert revealed.text.count(key) == 1  # in the field, never in the examples
    assert (await ApiKey.get(id=key_id)).key_hash is not None
    answer = await gql(client, key, VIEWER)
    assert answer.json()["data"]["viewer"] == {"kind": "KEY", "key": {"environment": "TEST", "endpoint": {"id": world.a.orders}}}

    for again in (await client.post(path, headers=SAME_ORIGIN), await client.get(path)):
        responses.append(again)
        assert again.status_code == 404 and "already been used" in again.text
        secure_page(again)
    assert [r for r in responses if KEY.search(r.text)] == [revealed]  # the key is in one response only


async def test_a_live_key_link_says_live(client, settings, world):
    path, _ = await claim_link(world, settings, env="live")
    shown = await client.get(path)
    assert ">LIVE<" in shown.text and ">TEST<" not in shown.text
    revealed = await client.post(path, headers=SAME_ORIGIN)
    assert Page(revealed.text).text_of["key"].strip().startswith("tm_live_")


async def test_a_deactivated_key_cannot_be_claimed(client, settings, world):
    path, key_id = await claim_link(world, settings)
    await key_service.set_active(OPERATOR, key_id, False, CLI)
    for response in (await client.get(path), await client.post(path, headers=SAME_ORIGIN)):
        assert response.status_code == 404 and "deactivated" in response.text and "Reveal" not in response.text
        secure_page(response)
    assert (await ApiKey.get(id=key_id)).key_hash is None


async def test_forms_other_than_url_encoded_are_refused(client):
    response = await client.post("/login", json={"email": "a@b.co", "password": PASSWORD}, headers=SAME_ORIGIN)
    assert response.status_code == 415
    huge = await client.post("/login", data={"email": "a" * (FORM_LIMIT + 1), "password": PASSWORD}, headers=SAME_ORIGIN)
    assert huge.status_code == 413
    secure_page(huge)


# --- the commands that lead here ---------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("THREEMIN_")}, **extra}


@contextmanager
def serve(folder: Path) -> Iterator[tuple[str, str]]:
    """`threemin serve` in `folder`: its base URL, and what it said before serving."""
    port = free_port()
    process = subprocess.Popen([THREEMIN, "serve", "--port", str(port)], cwd=folder, env=_env(), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        said = []
        for line in process.stderr or []:
            said.append(line)
            if "serving on" in line:
                break
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/login", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "".join(said)
                time.sleep(0.1)
        yield base, "".join(said)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def test_serve_prints_a_setup_link_until_it_is_used(tmp_path):
    with serve(tmp_path) as (base, said):
        link = re.search(r"(http://127\.0\.0\.1:\d+)(/invite/\S+)", said)
        assert link and "one-time setup link" in said and link.group(1) == base, said
        with httpx.Client(base_url=base) as browser:
            assert "Set up threemin" in browser.get(link.group(2)).text
            fields = {"workspaceName": "Acme", "name": "Ada", "email": "ada@example.com", "password": PASSWORD}
            assert browser.post(link.group(2), data=fields, headers={"origin": base}).status_code == 303
            assert "Signed in as Ada" in browser.get("/").text
    with serve(tmp_path) as (_, said):
        assert "/invite/" not in said, said


def createuser(folder: Path, *args: str, password: str | None = PASSWORD, typed: str | None = None) -> subprocess.CompletedProcess[str]:
    env = _env(THREEMIN_PASSWORD=password) if password else _env()
    return subprocess.run([THREEMIN, "createuser", *args], check=False, cwd=folder, env=env, input=typed or "", capture_output=True, text=True, timeout=60)


def test_createuser_then_sign_in(tmp_path):
    made = createuser(tmp_path, "--email", "Ada@Example.com", "--name", "Ada", "--workspace-name", "Acme", "--json")
    assert made.returncode == 0, made.stderr
    ada = json.loads(made.stdout)
    assert ada["email"] == "ada@example.com" and ada["role"] == "owner" and ada["user"].startswith("usr_")
    # Without THREEMIN_PASSWORD it asks twice; the only workspace is the default.
    bob = createuser(tmp_path, "--email", "bob@example.com", "--name", "Bob", "--role", "viewer", "--json", password=None, typed=f"{PASSWORD}\n{PASSWORD}\n")
    assert bob.returncode == 0, bob.stderr
    assert json.loads(bob.stdout)["workspace"] == ada["workspace"]
    typo = createuser(tmp_path, "--email", "eve@example.com", "--name", "Eve", password=None, typed=f"{PASSWORD}\n{PASSWORD}x\n")
    assert typo.returncode == 1 and "do not match" in typo.stderr
    assert createuser(tmp_path, "--email", "eve@example.com", "--name", "Eve", "--password", PASSWORD).returncode == 2
    short = createuser(tmp_path, "--email", "eve@example.com", "--name", "Eve", "--workspace-name", "Evil", password="short")
    assert short.returncode == 1 and "password: must be at least" in short.stderr

    with serve(tmp_path) as (base, said), httpx.Client(base_url=base) as browser:
        assert "/invite/" not in said  # somebody can sign in: no setup link
        signed_in = browser.post("/login", data={"email": "bob@example.com", "password": PASSWORD}, headers={"origin": base})
        assert signed_in.status_code == 303
        home = browser.get("/").text
        assert "Signed in as Bob" in home and "Acme" in home and "viewer" in home and "Evil" not in home
