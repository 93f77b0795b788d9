"""Fixtures for the dashboard screens' tests: signed-in people, and requests made the way their browser makes them.

`people` (from tests/people.py) gives the owner, admin, viewer and a bystander
viewer of workspace A, and the owner of workspace B. `people_client` sends
their session cookie as a header, `Sec-Fetch-Site: same-origin` and, on POSTs,
the session-bound CSRF token, unless a test asks for something else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

import httpx
import pytest_asyncio

from server.dashboard.screens import csrf_token
from server.settings import Settings
from tests.people import USER_AGENT, Person, people_fixture, session_headers  # noqa: F401  (the `people` fixture)

VALID = object()  # send the right CSRF token


@dataclass
class PeopleClient:
    client: httpx.AsyncClient
    settings: Settings

    def csrf(self, person: Person) -> str:
        return csrf_token(self.settings.secret_key, person.token)

    def headers(self, person: Person | None, *, htmx: str | None = None, **extra: str) -> dict[str, str]:
        """`htmx`: the id of the element htmx would swap (sent as htmx 4 does, `tag#id`)."""
        headers = session_headers(person.token) if person else {"User-Agent": USER_AGENT, "Sec-Fetch-Site": "same-origin"}
        if htmx is not None:
            headers |= {"HX-Request": "true", "HX-Target": htmx}
        return headers | extra

    async def get(self, path: str, person: Person | None, *, htmx: str | None = None, **extra: str) -> httpx.Response:
        return await self.client.get(path, headers=self.headers(person, htmx=htmx, **extra))

    async def post(
        self, path: str, person: Person | None, data: dict[str, str] | None = None, *, csrf: object = VALID, htmx: str | None = None, **extra: str
    ) -> httpx.Response:
        """A form post; `csrf` None sends no token, a string sends that one (in the form, or the header with htmx)."""
        token = self.csrf(person) if csrf is VALID and person else csrf
        headers = self.headers(person, htmx=htmx, **extra)
        form = dict(data or {})
        if token is not None:
            if htmx is not None:
                headers["X-CSRF-Token"] = str(token)
            else:
                form["csrf"] = str(token)
        return await self.client.post(path, data=form, headers=headers)


@pytest_asyncio.fixture
async def people_client(client: httpx.AsyncClient, settings: Settings) -> PeopleClient:
    return PeopleClient(client, settings)


class Html(HTMLParser):
    """Just enough of a page for the screens' tests: its text, the ids present, the forms' actions and buttons."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.text_parts: list[str] = []
        self.ids: set[str] = set()
        self.actions: list[str] = []
        self.buttons: list[str] = []
        self.links: list[str] = []
        self.has_html_element = False
        self._in_button = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"] or "")
        if tag == "html":
            self.has_html_element = True
        if tag == "form" and a.get("method") == "post":
            self.actions.append(a.get("action") or "")
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        if tag in ("button", "summary"):
            self._in_button = True
            self.buttons.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("button", "summary"):
            self._in_button = False

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)
        if self._in_button:
            self.buttons[-1] += data.strip()

    @property
    def text(self) -> str:
        # Words as a reader sees them: no space before punctuation that follows a tag.
        return re.sub(r" ([.,;:!?)])", r"\1", " ".join(" ".join(self.text_parts).split()))
