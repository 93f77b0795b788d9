"""Shared fixtures: a real app on a real, migrated, temporary SQLite database
(or PostgreSQL database, when THREEMIN_TEST_DATABASE_URL names a server: see
tests/postgres.py and .ci/with-postgres).

`world` builds two workspaces with endpoints, partners and keys through the
same services the CLI uses; `issue` mints more keys; `gql` posts GraphQL the
way a partner does (Authorization header, JSON body).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from tortoise.context import require_context

from server.app import create_app
from server.db import apply_migrations, open_database
from server.keys import Environment
from server.policy import OPERATOR
from server.services import keys as key_service
from server.services import workspaces
from server.services.audit import CLI
from server.services.keys import Handover, KeyGrant
from server.settings import Settings
from tests.postgres import ON_POSTGRES, URL, Databases

SECRET = "test-secret-not-for-production"
ORDER_FIELDS = [
    {"name": "customer", "type": "string", "required": True, "max_length": 50},
    {"name": "amount", "type": "number", "required": True, "min": 0},
    {"name": "note", "type": "string"},
]
ALL = ["create", "read", "update", "delete"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[Databases | None]:
    """The PostgreSQL server the suite runs on, or None on SQLite; its template is migrated once."""
    if not ON_POSTGRES:
        yield None
        return
    databases = Databases(URL)
    databases.template = databases.create()
    databases.run(apply_migrations(Settings(database_url=databases.url(databases.template))))
    yield databases
    databases.drop(databases.template)
    databases.close()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory, postgres: Databases | None) -> Path | None:
    """One database migrated from nothing; each test starts from a copy (much faster than migrating each time)."""
    if postgres is not None:
        return None
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    asyncio.run(apply_migrations(Settings(database_url=f"sqlite://{path}")))
    return path


@pytest.fixture
def settings(tmp_path, migrated_template, postgres: Databases | None) -> Iterator[Settings]:
    if postgres is None:
        shutil.copyfile(migrated_template, tmp_path / "test.sqlite3")
        yield Settings(database_url=f"sqlite://{tmp_path / 'test.sqlite3'}", secret_key=SECRET, fast_password_hashing=True)
        return
    name = postgres.create(postgres.template)
    yield Settings(database_url=postgres.url(name), secret_key=SECRET, fast_password_hashing=True)
    postgres.drop(name)


@pytest_asyncio.fixture
async def db(settings: Settings) -> AsyncIterator[None]:
    async with open_database(settings, migrate=False):
        yield


@pytest.fixture
def sent_statements(db: None, monkeypatch) -> list[str]:
    """Every statement tortoise sends through the test's database client (SQLite's or PostgreSQL's), in order."""
    sent: list[str] = []
    kind = type(require_context().db())

    def recorded(original):
        async def call(self, query, *args, **kwargs):
            sent.append(query)
            return await original(self, query, *args, **kwargs)

        return call

    for name in ("execute_query", "execute_query_dict", "execute_insert", "execute_many", "execute_script"):
        monkeypatch.setattr(kind, name, recorded(getattr(kind, name)))
    return sent


@pytest_asyncio.fixture
async def app(settings: Settings, db: None):
    return create_app(settings, manage_database=False)


@pytest_asyncio.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client


@dataclass
class Tenant:
    workspace: str
    orders: str  # endpoint with ORDER_FIELDS
    leads: str  # a second endpoint
    acme: str  # partner
    globex: str  # another partner
    keys: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    a: Tenant
    b: Tenant


async def issue(
    tenant: Tenant,
    *,
    endpoint: str | None = None,
    partner: str | None = None,
    env: str = "test",
    permissions: list[str] | None = None,
    **grant: Any,
) -> str:
    """A new key's plaintext; keyword arguments go to KeyGrant.parse."""
    issued = await key_service.issue_key(
        OPERATOR,
        tenant.workspace,
        partner or tenant.acme,
        endpoint or tenant.orders,
        Environment(env),
        KeyGrant.parse(ALL if permissions is None else permissions, **grant),
        Handover.REVEAL,
        Settings(secret_key=SECRET),
        CLI,
    )
    assert issued.secret is not None
    return issued.secret


async def key_id(plaintext: str) -> str:
    from server.keys import hash_key
    from server.models import ApiKey

    return (await ApiKey.get(key_hash=hash_key(plaintext, SECRET))).id


async def _tenant(name: str) -> Tenant:
    ws = await workspaces.create_workspace(name, CLI)
    orders = await workspaces.create_endpoint(OPERATOR, ws.id, "orders", ORDER_FIELDS, CLI)
    leads = await workspaces.create_endpoint(OPERATOR, ws.id, "leads", [{"name": "email", "type": "email", "required": True}], CLI)
    acme = await workspaces.create_partner(OPERATOR, ws.id, "Acme", CLI)
    globex = await workspaces.create_partner(OPERATOR, ws.id, "Globex", CLI)
    tenant = Tenant(ws.id, orders.id, leads.id, acme.id, globex.id)
    tenant.keys["test"] = await issue(tenant, env="test")
    tenant.keys["live"] = await issue(tenant, env="live")
    return tenant


@pytest_asyncio.fixture
async def world(db: None) -> World:
    return World(await _tenant("Alpha"), await _tenant("Beta"))


async def gql(client: httpx.AsyncClient, key: str | None, query: str, variables: dict[str, Any] | None = None, **headers: str) -> httpx.Response:
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    return await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)


async def gql_ok(client: httpx.AsyncClient, key: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """The data of a request that must succeed completely."""
    response = await gql(client, key, query, variables)
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


CREATE = "mutation($endpoint: ID!, $data: JSON!) { createRecord(endpoint: $endpoint, data: $data) { id environment partnerId createdAt data } }"
CREATE_ID_ONLY = "mutation($endpoint: ID!, $data: JSON!) { createRecord(endpoint: $endpoint, data: $data) { id createdAt } }"
CREATE_MANY = "mutation($endpoint: ID!, $data: [JSON!]!) { createRecords(endpoint: $endpoint, data: $data) { id data } }"
LIST = "query($endpoint: ID!, $first: Int, $after: String) { records(endpoint: $endpoint, first: $first, after: $after) { edges { cursor node { id data partnerId environment } } pageInfo { hasNextPage endCursor } } }"
GET = "query($id: ID!) { record(id: $id) { id data } }"
UPDATE = "mutation($id: ID!, $data: JSON!) { updateRecord(id: $id, data: $data) { id data } }"
DELETE = "mutation($id: ID!) { deleteRecord(id: $id) }"
ORDER = {"customer": "Ada", "amount": 42.5}
