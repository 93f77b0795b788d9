"""A partner's claim link in a real browser (Chromium via Playwright): reveal the key once, copy it.

Runs on its own, not with the async tests (sync Playwright keeps an event loop running):

    .venv/bin/python -m pytest -q tests/e2e

The claim link is made the way the dashboard will make it (services.keys.issue_key
with Handover.CLAIM) on the database `threemin demo` set up, then served by a real
`threemin serve`. Screenshots go to tests/artifacts/ (claim-link.png, claim.png,
claim-390.png): look at them after changing the pages or the stylesheet.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from server.db import open_database
from server.keys import Environment
from server.policy import OPERATOR
from server.services import keys as key_service
from server.services.audit import CLI
from server.services.keys import Handover, KeyGrant
from server.settings import Settings, resolve_secret_key

# From the GraphiQL test: the same browser setup, and its skip (or CI failure) when
# playwright or chromium is missing happens before anything here is used.
from tests.e2e.test_graphiql_browser import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    REPORT_CSP_VIOLATIONS,
    TIMEOUT_MS,
    expect,
    sync_playwright,
)
from tests.test_cli import run, serving


async def _claim_path(folder: Path, demo: dict[str, str]) -> str:
    """A new live key's claim link on the demo database, as a path (the server picks its own port)."""
    settings = resolve_secret_key(Settings(database_url=f"sqlite://{folder / 'threemin.sqlite3'}"), create=False)
    async with open_database(settings, migrate=False):
        issued = await key_service.issue_key(
            OPERATOR, demo["workspace"], demo["partner"], demo["endpoint"], Environment.LIVE,
            KeyGrant.parse(["create", "read"]), Handover.CLAIM, settings, CLI,
        )
    assert issued.claim_url is not None and issued.secret is None
    return urlsplit(issued.claim_url).path


def test_a_partner_reveals_and_copies_a_key_from_a_claim_link(tmp_path):
    demo = json.loads(run(tmp_path, "demo", "--json").stdout)
    path = asyncio.run(_claim_path(tmp_path, demo))

    with serving(tmp_path) as graphql_url, sync_playwright() as playwright:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(graphql_url))
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, permissions=["clipboard-read", "clipboard-write"])
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            console_errors: list[str] = []
            csp_violations: list[dict] = []
            page.on("console", lambda message: message.type == "error" and console_errors.append(f"{message.text} @ {message.location}"))
            page.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))
            page.expose_function("__threeminCspViolation", lambda violation: csp_violations.append(violation))
            page.add_init_script(REPORT_CSP_VIOLATIONS)

            # Opening the link describes the key and mints nothing.
            document = page.goto(origin + path)
            assert document is not None and document.status == 200
            assert "script-src 'self'" in document.headers["content-security-policy"]
            expect(page.locator(".env-live")).to_have_text("LIVE")
            expect(page.get_by_text("Acme Shipping")).to_be_visible()
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=ARTIFACTS / "claim-link.png", full_page=True)

            page.get_by_role("button", name="Reveal my key").click()
            field = page.get_by_label("Key for Acme Shipping")
            expect(field).to_have_attribute("readonly", "")
            key = field.input_value().strip()
            assert key.startswith("tm_live_") and len(key) == 44, key
            expect(page.get_by_text("This is the only time this key is shown.")).to_be_visible()
            assert page.content().count(key) == 1  # in the field only: the curl example uses $THREEMIN_KEY

            page.get_by_role("button", name="Copy").click()
            expect(page.locator("#copy-status")).to_contain_text("Copied")
            assert page.evaluate("navigator.clipboard.readText()") == key
            page.screenshot(path=ARTIFACTS / "claim.png", full_page=True)

            # A phone: nothing wider than the screen, the whole key visible, Copy below it.
            page.set_viewport_size({"width": 390, "height": 844})
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            box, button = field.bounding_box(), page.get_by_role("button", name="Copied").bounding_box()
            assert box and button and box["x"] >= 0 and box["x"] + box["width"] <= 390 and button["y"] > box["y"]
            assert field.evaluate("el => el.scrollHeight <= el.clientHeight + 1"), "the key is cut off"
            page.screenshot(path=ARTIFACTS / "claim-390.png", full_page=True)

            # Where the Clipboard API is refused, Copy selects the whole key for Ctrl+C.
            page.evaluate("() => { navigator.clipboard.writeText = () => Promise.reject(new Error('denied')); }")
            page.get_by_role("button", name="Copied").click()
            expect(page.locator("#copy-status")).to_contain_text("Ctrl+C")
            selected = field.evaluate("el => document.activeElement === el && el.value.slice(el.selectionStart, el.selectionEnd)")
            assert selected.strip() == key

            assert console_errors == [], console_errors
            assert csp_violations == [], csp_violations

            # The key works for the partner, and the link is spent (Chromium logs the
            # 404 of the page itself; nothing else may be logged).
            answer = httpx.post(graphql_url, json={"query": "{ viewer { key { environment } } }"}, headers={"Authorization": f"Bearer {key}"})
            assert answer.json() == {"data": {"viewer": {"key": {"environment": "LIVE"}}}}
            again = page.goto(origin + path)
            assert again is not None and again.status == 404
            expect(page.locator("main")).to_contain_text("already been used")
            assert "tm_live_" not in page.content()
            assert len(console_errors) == 1 and "status of 404" in console_errors[0] and path in console_errors[0], console_errors
            assert csp_violations == [], csp_violations
            # The recorder works (so "no violations" above means something): inline style is refused.
            page.evaluate("""() => { const s = document.createElement("style"); s.textContent = "body{}"; document.head.append(s); }""")
            page.wait_for_function("() => window.__threeminCspViolations.length > 0")
            assert [v["directive"] for v in csp_violations] == ["style-src-elem"], csp_violations
        finally:
            browser.close()
