"""GraphiQL in a real browser (Chromium via Playwright): usable with a key in its Headers editor.

Runs on its own, not with the async tests (sync Playwright keeps an event loop running):

    .venv/bin/python -m pytest -q tests/e2e

Needs `pip install playwright` and a Chromium on PATH (Debian's /usr/bin/chromium);
`playwright install` is not needed. The module is skipped only when one of them is missing.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.test_cli import run, serving

# On a developer's machine without a browser the module is skipped; in CI
# (.ci/run installs both) a missing browser is a failure, never a silent skip.
_missing = pytest.fail if os.environ.get("CI") else pytest.skip
try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    _missing("playwright is not installed (pip install playwright)", allow_module_level=True)

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:  # pragma: no cover - depends on the environment
    _missing("no `chromium` executable on PATH", allow_module_level=True)

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
QUERY = "{ viewer { kind key { environment endpoint { name } } } }"
TIMEOUT_MS = 10_000

# Forwards every `securitypolicyviolation` event to Python (the binding survives reloads)
# and keeps them in the page too, for waiting on.
REPORT_CSP_VIOLATIONS = """
window.__threeminCspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__threeminCspViolations.push(event.effectiveDirective);
  window.__threeminCspViolation({
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    sample: event.sample,
    source: event.sourceFile + ":" + event.lineNumber,
  });
});
"""


def editor_value(locator) -> str:
    """The full text of a CodeMirror 5 editor (its DOM holds only the visible lines)."""
    return locator.evaluate("element => element.CodeMirror.getValue()")


def replace_editor_text(page, locator, text: str) -> None:
    """Select everything in the editor and put `text` in its place, as a paste would."""
    locator.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text(text)
    assert editor_value(locator) == text


def test_graphiql_runs_a_query_with_a_key_in_its_headers(tmp_path):
    demo = json.loads(run(tmp_path, "demo", "--json").stdout)
    key = demo["test_key"]
    assert key.startswith("tm_test_")

    with serving(tmp_path) as url, sync_playwright() as playwright:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(url))
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)

            requests: list = []
            console_errors: list[str] = []
            csp_violations: list[dict] = []
            page.on("request", lambda request: requests.append(request))

            def on_console(message) -> None:
                if message.type == "error":
                    console_errors.append(f"{message.text} @ {message.location}")

            page.on("console", on_console)
            page.on("pageerror", lambda error: console_errors.append(f"uncaught: {error}"))
            page.expose_function("__threeminCspViolation", lambda violation: csp_violations.append(violation))
            page.add_init_script(REPORT_CSP_VIOLATIONS)

            document = page.goto(url)
            assert document is not None and document.status == 200
            assert "script-src 'self'" in document.headers["content-security-policy"]

            query_editor = page.locator(".graphiql-query-editor .CodeMirror")
            headers_editor = page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror")
            result = page.locator(".graphiql-response .result-window")
            expect(query_editor).to_be_visible()
            expect(headers_editor).to_contain_text("Bearer tm_test_...")  # Headers open, with a placeholder
            # No schema fetch (or any other API call) before there is a key (checked again at the end).
            assert all(request.method == "GET" for request in requests), [(r.method, r.url) for r in requests]

            replace_editor_text(page, headers_editor, json.dumps({"Authorization": f"Bearer {key}"}, indent=2))
            replace_editor_text(page, query_editor, QUERY)
            page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()

            expect(result).to_contain_text('"kind": "KEY"')
            shown = result.inner_text()
            assert '"environment": "TEST"' in shown and '"name": "orders"' in shown, shown
            answer = json.loads(editor_value(result.locator(".CodeMirror")))
            assert answer == {"data": {"viewer": {"kind": "KEY", "key": {"environment": "TEST", "endpoint": {"name": "orders"}}}}}

            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=ARTIFACTS / "graphiql.png")

            # The key also loads the schema: the docs explorer lists our types.
            page.get_by_role("button", name="Show Documentation Explorer").click()
            expect(page.locator(".graphiql-doc-explorer")).to_contain_text("Root Types")
            expect(page.locator(".graphiql-doc-explorer")).to_contain_text("Viewer")

            # GraphiQL writes its history at once and its tabs after a debounce; wait for both,
            # then the browser must hold no key.
            page.wait_for_function(
                """query => ["graphiql:queries", "graphiql:tabState"].every(
                     name => (localStorage.getItem(name) || "").includes(JSON.stringify(query).slice(1, -1)))""",
                arg=QUERY,
            )
            stored = page.evaluate("JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie")
            assert key not in stored and key[8:] not in stored, stored

            # A reload brings back the placeholder, not the key.
            page.reload()
            expect(headers_editor).to_contain_text("Bearer tm_test_...")
            expect(query_editor).to_contain_text(QUERY)  # the query is kept, the key is not
            assert key not in editor_value(headers_editor) and key not in page.url

            # Only the introspection and the query were POSTed, both with the key in the
            # Authorization header (nothing with the placeholder, neither on load nor on reload).
            posts = [request for request in requests if request.method == "POST"]
            assert any(json.loads(r.post_data or "{}").get("query") == QUERY for r in posts)
            assert posts and all(r.headers.get("authorization") == f"Bearer {key}" for r in posts)

            # No console errors at all are expected (none are whitelisted: nothing here
            # fetches a source map or gets a 401), and no CSP violations.
            assert console_errors == [], console_errors
            assert csp_violations == [], csp_violations
            # Every request went to the server's own origin and no URL carries the key.
            urls = [request.url for request in requests]
            assert urls and all(u.startswith(origin + "/") for u in urls if not u.startswith("data:")), urls
            assert not any(key in u or key[8:] in u for u in urls), urls

            # Finally, prove the CSP recorder works (so "no violations" above means something):
            # an inline <style> must be refused under the page's style-src.
            page.evaluate("""() => {
              const style = document.createElement("style");
              style.textContent = "body { outline: 1px solid red }";
              document.head.append(style);
            }""")
            page.wait_for_function("() => window.__threeminCspViolations.length > 0")
            assert [v["directive"] for v in csp_violations] == ["style-src-elem"], csp_violations
        finally:
            browser.close()
