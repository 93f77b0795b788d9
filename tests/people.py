"""People for the management API tests: users with a role and a signed-in session.

`people` (a fixture: import `people_fixture` into a test module) gives the owner, admin and
viewer of workspace A, a bystander viewer of A (a target for member changes)
and the owner of workspace B, each with a session token. `gql_as` posts
GraphQL with that session the way the dashboard does: the session cookie and
`Sec-Fetch-Site: same-origin`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest_asyncio

from server.models import (
    ApiKey,
    AuditEvent,
    ClaimLink,
    Endpoint,
    Invitation,
    Membership,
    Partner,
    Record,
    Session,
    User,
    Workspace,
)
from server.services import accounts
from server.services.audit import Actor
from server.settings import Settings

SESSION_COOKIE = "threemin_session"
PASSWORD = "correct horse battery staple"
USER_AGENT = "threemin-tests/1.0"


@dataclass
class Person:
    user_id: str
    email: str
    token: str


@dataclass
class People:
    owner: Person
    admin: Person
    viewer: Person
    bystander: Person  # a viewer of A that member operations act on
    owner_b: Person


async def make_person(settings: Settings, workspace_id: str, role: str, email: str) -> Person:
    user = await accounts.create_user(email, email.split("@")[0].title(), PASSWORD, settings)
    await Membership.create(workspace_id=workspace_id, user_id=user.id, role=role)
    token = await accounts.start_session(user, settings, Actor(user.id, "127.0.0.1", USER_AGENT))
    return Person(user.id, user.email, token)


@pytest_asyncio.fixture(name="people")
async def people_fixture(world, settings: Settings) -> People:
    a, b = world.a.workspace, world.b.workspace
    return People(
        owner=await make_person(settings, a, "owner", "olivia@alpha.example"),
        admin=await make_person(settings, a, "admin", "adam@alpha.example"),
        viewer=await make_person(settings, a, "viewer", "vera@alpha.example"),
        bystander=await make_person(settings, a, "viewer", "bob@alpha.example"),
        owner_b=await make_person(settings, b, "owner", "bea@beta.example"),
    )


def session_headers(token: str, **headers: str) -> dict[str, str]:
    return {"Cookie": f"{SESSION_COOKIE}={token}", "Sec-Fetch-Site": "same-origin", "User-Agent": USER_AGENT, **headers}


async def gql_as(client: httpx.AsyncClient, token: str | None, query: str, variables: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
    """POST /graphql as a signed-in person (token None: with no credentials at all)."""
    sent = session_headers(token, **headers) if token is not None else {"User-Agent": USER_AGENT, **headers}
    return await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=sent)


async def gql_as_ok(client: httpx.AsyncClient, token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await gql_as(client, token, query, variables)
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]


SNAPSHOT_MODELS = (Workspace, Endpoint, Partner, ApiKey, ClaimLink, Record, AuditEvent, User, Membership, Session, Invitation)


async def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table that a management operation could touch."""
    out = {}
    for model in SNAPSHOT_MODELS:
        rows = await model.all().values()
        out[model.__name__] = sorted(repr(sorted(row.items())) for row in rows)
    return out
