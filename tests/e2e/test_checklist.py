"""The safety checklist in a real browser (Chromium via Playwright): a fired item and its one-click fix.

A history is built on the database `threemin demo` set up, straight in the
database as time would have left it: the test key was issued 40 days ago and
never used (it fires "unused keys"), the live key has 45 days of create-only
traffic (it fires "more permissions than needed"), and a second partner got a
live key with no test key (it fires "test and live"). Both demo keys were
revealed on screen (they fire "plain text"). The owner signs in, sees the
items and the badge, deactivates the unused key from its card (confirming),
and sees the card turn "All good" and the badge go down, without a reload.
Then the advisor and blast radius screens of the live key.

Runs with the other browser tests, on its own (sync Playwright keeps an event loop running):

    .venv/bin/python -m pytest -q tests/e2e

Screenshots go to tests/artifacts/checklist-*.png: look at them after changing these pages.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from server.db import open_database
from server.keys import Environment
from server.models import ApiKey, UsageDay, UsageShape
from server.policy import OPERATOR
from server.services import keys as key_service
from server.services import workspaces
from server.services.audit import CLI
from server.services.keys import Handover, KeyGrant
from server.settings import Settings, resolve_secret_key

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
from tests.test_cli import THREEMIN, post, run, serving

EMAIL, PASSWORD = "olivia@example.com", "a long enough checklist password"
CREATE = "mutation($e: ID!, $d: JSON!) { createRecord(endpoint: $e, data: $d) { id } }"
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


async def _history(folder: Path, demo: dict[str, str]) -> dict[str, str]:
    """Age the demo's keys and give them a past; returns the ids of the keys concerned."""
    settings = resolve_secret_key(Settings(database_url=f"sqlite://{folder / 'threemin.sqlite3'}"), create=False)
    now = datetime.now(UTC)
    async with open_database(settings, migrate=False):
        test_key = await ApiKey.get(workspace_id=demo["workspace"], environment=Environment.TEST.value)
        live_key = await ApiKey.get(workspace_id=demo["workspace"], environment=Environment.LIVE.value)
        await ApiKey.filter(id=test_key.id).update(created_at=now - timedelta(days=40))
        await ApiKey.filter(id=live_key.id).update(created_at=now - timedelta(days=45), last_used_at=now - timedelta(days=1))
        for back in range(1, 21):
            day = date.today() - timedelta(days=back)
            await UsageDay.create(key_id=live_key.id, day=day, operation="create", allowed=6 + back % 4, refused=0)
            await UsageShape.create(key_id=live_key.id, day=day, operation="create", fields="amount,customer", fields_hash=f"h{back}", requests=6 + back % 4)
        globex = await workspaces.create_partner(OPERATOR, demo["workspace"], "Globex", CLI)
        issued = await key_service.issue_key(
            OPERATOR, demo["workspace"], globex.id, demo["endpoint"], Environment.LIVE,
            KeyGrant.parse(["create"]), Handover.CLAIM, settings, CLI,
        )
    return {"test": test_key.id, "live": live_key.id, "globex": issued.key.id}


def _create_owner(folder: Path, workspace: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREEMIN_")} | {"THREEMIN_PASSWORD": PASSWORD}
    done = subprocess.run(
        [THREEMIN, "createuser", "--email", EMAIL, "--name", "Olivia", "--workspace", workspace, "--role", "owner"],
        cwd=folder, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_a_fired_item_is_fixed_in_one_click_and_the_badge_goes_down(tmp_path):
    demo = json.loads(run(tmp_path, "demo", "--json").stdout)
    ids = asyncio.run(_history(tmp_path, demo))
    _create_owner(tmp_path, demo["workspace"])

    with serving(tmp_path) as graphql_url, sync_playwright() as playwright:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(graphql_url))
        for amount in (12.5, 99, 7):  # records the live key wrote, for its blast radius
            assert "data" in post(graphql_url, demo["live_key"], CREATE, e=demo["endpoint"], d={"customer": "Initech", "amount": amount})
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport=DESKTOP)
            context.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            errors: list[str] = []
            csp: list[dict] = []
            context.on("console", lambda m: m.type == "error" and errors.append(f"{m.text} @ {m.location.get('url')}"))
            context.on("weberror", lambda e: errors.append(f"uncaught {e.error}"))
            context.expose_function("__threeminCspViolation", lambda v: csp.append(v))
            context.add_init_script(REPORT_CSP_VIOLATIONS)
            page = context.new_page()
            ARTIFACTS.mkdir(exist_ok=True)

            page.goto(origin + "/login")
            page.get_by_label("Email").fill(EMAIL)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(origin + "/")
            page.goto(f"{origin}/w/{demo['workspace']}/keys")

            # The badge loads on every workspace screen: 2 revealed keys, 1 unused, 1 live without test, 1 excess.
            nav = page.get_by_role("navigation", name="Workspace")
            link = nav.get_by_role("link", name="Safety checklist")
            expect(link.locator("#checklist-badge")).to_have_text("5 open findings")
            link.click()
            page.wait_for_load_state("load")
            expect(page.get_by_role("heading", name="Safety checklist", level=1)).to_be_visible()
            unused = page.locator("#check-unused-keys")
            expect(unused.locator(".verdict")).to_have_text("1 key concerned")
            finding = unused.locator(f"[id='check-unused-keys-{ids['test']}']")
            expect(finding).to_contain_text("never used")
            expect(page.locator("#check-test-before-live")).to_contain_text("Globex")
            expect(page.locator("#check-excess-permissions")).to_contain_text("READ, UPDATE, DELETE granted, not used in 30 days")
            page.screenshot(path=ARTIFACTS / "checklist.png", full_page=True)

            # The fix asks first, then swaps the cards in place: no reload, the badge follows.
            page.evaluate("window.__sameDocument = true")
            finding.get_by_text("Deactivate…").click()
            confirm = finding.get_by_role("button", name="Yes, deactivate")
            expect(confirm).to_be_visible()
            page.screenshot(path=ARTIFACTS / "checklist-confirm.png", full_page=False)
            confirm.click()
            expect(page.get_by_role("status").filter(has_text="is deactivated")).to_be_visible()
            expect(unused.locator(".verdict")).to_have_text("All good")
            expect(page.locator(f"[id='check-unused-keys-{ids['test']}']")).to_have_count(0)
            # The same key also left "plain text": 5 - 2 = 3.
            expect(link.locator("#checklist-badge")).to_have_text("3 open findings")
            assert page.evaluate("window.__sameDocument === true"), "the fix reloaded the page"
            page.screenshot(path=ARTIFACTS / "checklist-fixed.png", full_page=True)
            page.set_viewport_size(PHONE)
            page.screenshot(path=ARTIFACTS / "checklist-390.png", full_page=True)
            phone_width = page.evaluate("document.documentElement.scrollWidth")
            page.set_viewport_size(DESKTOP)

            # The key really is off: the very next request is refused.
            answer = post(graphql_url, demo["test_key"], "{ viewer { kind } }")
            assert answer["errors"][0]["extensions"]["code"] == "KEY_DISABLED", answer

            # The excess-permissions fix leads to the advisor: what it used, a dry run refusing nothing.
            page.locator("#check-excess-permissions").get_by_role("link", name="Review and reduce").click()
            page.wait_for_load_state("load")
            expect(page.locator(".dry-run")).to_contain_text("would have been refused")
            page.screenshot(path=ARTIFACTS / "checklist-advisor.png", full_page=True)
            page.get_by_role("button", name="Reduce the key to this").click()
            page.wait_for_load_state("load")
            expect(page.get_by_text("Permissions reduced.")).to_be_visible()

            page.goto(f"{origin}/w/{demo['workspace']}/keys/{ids['live']}/records")
            expect(page.get_by_role("row").filter(has_text="Initech")).to_have_count(3)
            page.screenshot(path=ARTIFACTS / "checklist-blast-radius.png", full_page=True)

            assert errors == [], errors
            assert csp == [], csp
            assert phone_width <= PHONE["width"], phone_width
        finally:
            browser.close()
