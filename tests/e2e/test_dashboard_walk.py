"""One whole dashboard session in a real browser (Chromium via Playwright), as a person does it.

From a fresh folder: `threemin serve` prints the one-time setup link; the owner sets up,
creates an endpoint and a partner, issues a test key (shown once), sends a record with it,
sees it under Test and not under Live, deactivates and reactivates the key from the list,
issues a live key by claim link that a partner claims in a second browser context, and
opens GraphiQL. No request may leave 127.0.0.1, no CSP violation and no console error.

Runs with the other browser tests, on its own (sync Playwright keeps an event loop running):

    .venv/bin/python -m pytest -q tests/e2e

Screenshots of the main screens go to tests/artifacts/walk-*.png (1280 px, and the keys
list and records page at 390 px): look at them after changing pages or stylesheets.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from server.auth import SESSION_COOKIE

# The same browser setup as the other e2e tests; importing it skips this module (or fails
# it in CI) when playwright or chromium is missing.
from tests.e2e.test_graphiql_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    REPORT_CSP_VIOLATIONS,
    TIMEOUT_MS,
    expect,
    sync_playwright,
)
from tests.test_cli import THREEMIN, free_port, post

PASSWORD = "a long enough walk password"
VIEWER = "{ viewer { kind key { environment } } }"
CREATE = "mutation($e: ID!, $d: JSON!) { createRecord(endpoint: $e, data: $d) { id data } }"
KEY_SHAPE = r"tm_{}_[0-9A-Za-z]{{36}}"
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}
# Every element outside one element (by id), kept in the page to check later that an htmx
# swap replaced only that element: the rest are the very same nodes, and no reload happened.
KEEP_ALL_BUT = "id => (window.__walkKept = [...document.body.querySelectorAll('*')].filter(el => !el.closest(`[id='${id}']`))).length"
ALL_KEPT = "() => Array.isArray(window.__walkKept) && window.__walkKept.every(el => el.isConnected)"


@contextmanager
def fresh_server(folder: Path) -> Iterator[tuple[str, str]]:
    """`threemin serve` in an empty folder: its base URL and the setup link it printed on stderr."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREEMIN_")}
    process = subprocess.Popen(
        [THREEMIN, "serve", "--port", str(port)], cwd=folder, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    base, said, reader = f"http://127.0.0.1:{port}", [], None
    try:
        assert process.stderr is not None
        for line in process.stderr:
            said.append(line)
            if "serving on" in line:
                break
        link = re.search(re.escape(base) + r"/invite/\S+", "".join(said))
        assert link and "one-time setup link" in "".join(said), "".join(said)
        # Keep draining stderr so the server never blocks on a full pipe.
        reader = threading.Thread(target=lambda: said.extend(process.stderr), daemon=True)
        reader.start()
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/login", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "".join(said)
                time.sleep(0.1)
        yield base, link.group(0)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        if reader:
            reader.join(timeout=10)
        if process.stderr:
            process.stderr.close()
        output = "".join(said)
        assert "tm_test_" not in output and "tm_live_" not in output, output  # the server never prints a key


class Watch:
    """What every page of every context did: requests, console errors, CSP violations."""

    def __init__(self) -> None:
        self.requests: list = []
        self.errors: list[str] = []
        self.csp: list[dict] = []

    def attach(self, context, name: str) -> None:
        context.set_default_timeout(TIMEOUT_MS)
        context.on("request", lambda request: self.requests.append(request))
        context.on("console", lambda m: m.type == "error" and self.errors.append(f"{name}: {m.text} @ {m.location.get('url')}"))
        context.on("weberror", lambda e: self.errors.append(f"{name}: uncaught {e.error}"))
        context.expose_function("__threeminCspViolation", lambda v: self.csp.append({**v, "context": name}))
        context.add_init_script(REPORT_CSP_VIOLATIONS)


def shot(page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"walk-{name}.png", full_page=True)


def at_phone_width(page, name: str) -> int:
    """A 390 px screenshot; returns how wide the page really is there (wider: sideways scrolling)."""
    page.set_viewport_size(PHONE)
    shot(page, name)
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size(DESKTOP)
    return width


def go(page, link) -> None:
    """Follow a link and wait until the new page has loaded (htmx and copy.js are deferred scripts)."""
    link.click()
    page.wait_for_load_state("load")


def issue_form(page, environment: str, handover: str) -> None:
    """On "Issue a key": Globex on orders, may create and read."""
    page.get_by_label("Partner", exact=True).select_option(label="Globex")
    page.get_by_label("Endpoint", exact=True).select_option(label="orders")
    page.get_by_role("radio", name=environment).check()
    page.get_by_role("checkbox", name="Create", exact=True).check()
    page.get_by_role("checkbox", name="Read", exact=True).check()
    page.get_by_role("radio", name=handover).check()


def test_an_owner_walks_the_dashboard_from_setup_to_graphiql(tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    watch = Watch()
    expect.set_options(timeout=TIMEOUT_MS)
    with fresh_server(tmp_path) as (base, setup_link), sync_playwright() as playwright:
        graphql = base + "/graphql"
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            owner = browser.new_context(viewport=DESKTOP, permissions=["clipboard-read", "clipboard-write"])
            watch.attach(owner, "owner")
            page = owner.new_page()
            nav = page.get_by_role("navigation", name="Workspace")

            # 1. The setup link creates the owner and the workspace.
            page.goto(setup_link)
            expect(page.get_by_role("heading", name="Set up threemin")).to_be_visible()
            page.get_by_label("Workspace name").fill("Acme")
            page.get_by_label("Your name").fill("Ada")
            page.get_by_label("Email").fill("ada@example.com")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Create account and workspace").click()
            expect(page.get_by_role("heading", name="Signed in as Ada")).to_be_visible()
            go(page, page.get_by_role("link", name="Acme"))
            expect(page.get_by_text("No keys yet.")).to_be_visible()

            # 2. An endpoint with two required fields, through the fields editor; a partner.
            go(page, nav.get_by_role("link", name="Endpoints"))
            go(page, page.get_by_role("link", name="New endpoint"))
            page.get_by_label("Name", exact=True).fill("orders")
            names, types, required = page.get_by_label("Field name"), page.get_by_label("Type"), page.get_by_label("Required")
            names.nth(0).fill("customer")
            types.nth(0).select_option("STRING")
            required.nth(0).check()
            page.get_by_role("button", name="Add field").click()
            expect(names).to_have_count(2)
            expect(names.nth(1)).to_be_focused()
            names.nth(1).fill("amount")
            types.nth(1).select_option("NUMBER")
            required.nth(1).check()
            shot(page, "endpoint-editor")
            go(page, page.get_by_role("button", name="Create endpoint"))
            expect(page.get_by_role("heading", name="orders")).to_be_visible()
            endpoint_id = re.search(r"/endpoints/(ep_[0-9A-Za-z]+)", page.url).group(1)

            go(page, nav.get_by_role("link", name="Partners"))
            page.get_by_label("Add a partner").fill("Globex")
            page.get_by_role("button", name="Add partner").click()
            expect(page.get_by_text("Globex was added")).to_be_visible()
            expect(page.get_by_role("link", name="Globex")).to_be_visible()
            shot(page, "partners")

            # 3. A test key, shown once: copied with the button, under a warning.
            go(page, nav.get_by_role("link", name="Keys"))
            go(page, page.get_by_role("link", name="Issue a key"))
            issue_form(page, "Test sandbox data", "Show it to me once")
            shot(page, "issue")
            go(page, page.get_by_role("button", name="Issue key"))
            expect(page.get_by_text("This is the only time this key is shown.")).to_be_visible()
            test_key = page.get_by_label("The key").input_value()
            assert re.fullmatch(KEY_SHAPE.format("test"), test_key), test_key
            page.get_by_role("button", name="Copy", exact=True).click()
            expect(page.locator("#copy-status")).to_contain_text("Copied")
            assert page.evaluate("navigator.clipboard.readText()") == test_key
            shot(page, "revealed")
            details = page.get_by_role("link", name="See the key and how to send data")
            test_key_id = details.get_attribute("href").rsplit("/", 1)[1]

            # 4. A record sent with the key is under Test, not under Live.
            sent = post(graphql, test_key, CREATE, e=endpoint_id, d={"customer": "Ada Corp", "amount": 42.5})
            assert sent["data"]["createRecord"]["data"] == {"customer": "Ada Corp", "amount": 42.5}, sent
            go(page, nav.get_by_role("link", name="Endpoints"))
            go(page, page.get_by_role("link", name="orders", exact=True))
            tabs = page.get_by_role("navigation", name="Environment")
            go(page, tabs.get_by_role("link", name="Live"))
            expect(tabs.get_by_role("link", name="Live")).to_have_attribute("aria-current", "page")
            expect(page.get_by_text("No live records yet.")).to_be_visible()
            expect(page.locator("#record-table")).not_to_contain_text("Ada Corp")
            assert "environment=LIVE" in page.url
            shot(page, "records-live")
            go(page, tabs.get_by_role("link", name="Test"))
            expect(tabs.get_by_role("link", name="Test")).to_have_attribute("aria-current", "page")
            record = page.get_by_role("row").filter(has_text="Ada Corp")
            expect(record).to_contain_text("Globex")
            expect(record).to_contain_text("42.5")
            shot(page, "records-test")
            records_width = at_phone_width(page, "records-390")

            # 5. Deactivate in the list swaps only that row; the key is refused, then works again.
            go(page, nav.get_by_role("link", name="Keys"))
            row = page.locator(f"[id='key-{test_key_id}']")
            expect(row.locator(".status")).to_have_text("active")
            url = page.url
            for button, status, after in (("Deactivate", "deactivated", "Reactivate"), ("Reactivate", "active", "Deactivate")):
                kept = page.evaluate(KEEP_ALL_BUT, f"key-{test_key_id}")
                old_row = row.element_handle()
                row.get_by_role("button", name=button).click()
                expect(row.get_by_role("button", name=after)).to_be_visible()
                expect(row.locator(".status")).to_have_text(status)
                assert page.url == url and kept > 20 and page.evaluate(ALL_KEPT), f"{button} changed more than the row"
                assert not old_row.evaluate("el => el.isConnected"), f"{button} did not swap the row"
                answer = post(graphql, test_key, VIEWER)
                if status == "deactivated":
                    assert answer["errors"][0]["extensions"]["code"] == "KEY_DISABLED", answer
                else:
                    assert answer == {"data": {"viewer": {"kind": "KEY", "key": {"environment": "TEST"}}}}, answer
            expect(page.locator("#flash")).to_be_empty()

            # 6. A live key by claim link, claimed by the partner in a browser with no session.
            go(page, page.get_by_role("link", name="Issue a key"))
            issue_form(page, "Live production data", re.compile(r"^By a one-time claim link"))
            go(page, page.get_by_role("button", name="Issue key"))
            expect(page.get_by_text("Send this one-time link to Globex.")).to_be_visible()
            page.get_by_role("button", name="Copy link").click()
            expect(page.locator("#copy-status")).to_contain_text("Copied")
            claim_url = page.evaluate("navigator.clipboard.readText()")
            assert claim_url == page.get_by_label("Claim link").input_value()
            assert claim_url.startswith(base + "/claim/") and "tm_live_" not in page.content()
            live_key_id = details.get_attribute("href").rsplit("/", 1)[1]

            partner = browser.new_context(viewport=DESKTOP)
            watch.attach(partner, "partner")
            assert partner.cookies() == []
            claim = partner.new_page()
            claim.goto(claim_url)
            expect(claim.locator(".env-live")).to_have_text("LIVE")
            expect(claim.get_by_text("Globex")).to_be_visible()
            go(claim, claim.get_by_role("button", name="Reveal my key"))
            live_key = claim.get_by_label(re.compile(r"^Key for Globex")).input_value().strip()
            assert re.fullmatch(KEY_SHAPE.format("live"), live_key), live_key
            assert all(c["name"] != SESSION_COOKIE for c in partner.cookies())
            shot(claim, "claimed")
            assert post(graphql, live_key, VIEWER) == {"data": {"viewer": {"kind": "KEY", "key": {"environment": "LIVE"}}}}
            assert "data" in post(graphql, live_key, CREATE, e=endpoint_id, d={"customer": "Initech", "amount": 7})

            # The owner's side never holds the live key: not on any page it opens now, not in the clipboard.
            go(page, nav.get_by_role("link", name="Keys"))
            expect(page.locator(f"[id='key-{live_key_id}'] .status")).to_have_text("active")
            shot(page, "keys")
            keys_width = at_phone_width(page, "keys-390")
            seen = [page.content()]
            go(page, page.locator(f"[id='key-{live_key_id}']").get_by_role("link").first)
            expect(page.get_by_text("Handed over")).to_be_visible()
            seen.append(page.content())
            go(page, nav.get_by_role("link", name="Endpoints"))
            go(page, page.get_by_role("link", name="orders", exact=True))
            go(page, tabs.get_by_role("link", name="Live"))
            expect(page.get_by_role("row").filter(has_text="Initech")).to_be_visible()
            expect(page.locator("#record-table")).not_to_contain_text("Ada Corp")
            go(page, nav.get_by_role("link", name="Audit log"))
            expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
            shot(page, "audit")
            seen.append(page.content())
            assert claim_url.rsplit("/", 1)[1] not in seen[-1]  # the log names the claim link, never its token
            go(page, nav.get_by_role("link", name="Members"))
            expect(page.get_by_role("heading", name="Invite someone")).to_be_visible()
            shot(page, "members")
            seen.append(page.content() + page.evaluate("navigator.clipboard.readText()"))
            assert not any(live_key in html or live_key[8:] in html for html in seen)

            # 7. GraphiQL with the session: the schema (docs) loads, the default query runs as the user.
            go(page, nav.get_by_role("link", name="GraphiQL"))
            expect(page.locator(".graphiql-query-editor .CodeMirror")).to_be_visible()
            page.get_by_role("button", name="Show Documentation Explorer").click()
            expect(page.locator(".graphiql-doc-explorer")).to_contain_text("Root Types")
            page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()
            expect(page.locator(".graphiql-response .result-window")).to_contain_text('"kind": "USER"')
            shot(page, "graphiql")
            posts = [r for r in watch.requests if r.method == "POST" and r.url == graphql]
            assert len(posts) >= 2 and not any("authorization" in r.headers for r in posts), [r.headers for r in posts]
            stored = page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
            assert live_key not in stored and test_key not in stored

            # Nothing left the machine: every request of both contexts went to this server.
            urls = [r.url for r in watch.requests]
            assert len(urls) > 30 and all(u.startswith(base + "/") for u in urls if not u.startswith("data:")), urls

            # 8. No CSP violation and no console error in either context.
            assert watch.csp == [], watch.csp
            assert watch.errors == [], watch.errors
            # The recorder works (so "none" means something): an inline style is refused.
            page.evaluate("() => { const s = document.createElement('style'); s.textContent = 'body{}'; document.head.append(s); }")
            page.wait_for_function("() => window.__threeminCspViolations.length > 0")
            assert [v["directive"] for v in watch.csp] == ["style-src-elem"], watch.csp

            # 9. At a phone's width nothing is wider than the screen (checked last: the screenshots come first).
            assert records_width <= PHONE["width"] and keys_width <= PHONE["width"], (records_width, keys_width)
        finally:
            browser.close()
