"""Schema hygiene: the committed SDL, limits, no suggestions, caches that hit, masked errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import get_introspection_query

from server.graphql import execution

from server.graphql.schema import build_schema
from server.settings import Settings
from tests.conftest import error_codes, gql

ROOT = Path(__file__).resolve().parents[1]
VIEWER = "{ viewer { kind key { id } } }"


def test_committed_schema_is_current():
    printed = build_schema(Settings()).as_str() + "\n"
    assert (ROOT / "schema.graphql").read_text() == printed, "run: threemin export-schema --output schema.graphql"


async def test_no_field_suggestions(client, world):
    body = (await gql(client, world.a.keys["test"], "{ recrds(endpoint: \"x\") { edges { cursor } } }")).json()
    assert "Did you mean" not in str(body) and "records" not in str(body)


async def test_depth_limit_refuses_deep_queries_but_not_graphiql(client, world):
    path = ["__schema", "types", "fields", "type"] + ["ofType"] * 12
    too_deep = "{ " + " { ".join(path) + " { name }" + " }" * len(path)
    response = await gql(client, world.a.keys["test"], too_deep)
    assert response.status_code == 200 and "data" not in response.json()
    assert "exceeds maximum operation depth" in response.json()["errors"][0]["message"]
    # GraphiQL's own introspection query must still pass.
    introspection = await gql(client, world.a.keys["test"], get_introspection_query(descriptions=True))
    assert "errors" not in introspection.json() and introspection.json()["data"]["__schema"]["queryType"]


async def test_alias_limit(client, world, settings):
    aliases = " ".join(f"a{i}: viewer {{ kind }}" for i in range(settings.max_aliases + 1))
    response = await gql(client, world.a.keys["test"], "{ " + aliases + " }")
    assert response.status_code == 200 and "data" not in response.json()
    assert "aliases" in response.json()["errors"][0]["message"]


async def test_token_limit(client, world, settings):
    fields = " ".join("__typename" for _ in range(settings.max_tokens))
    body = (await gql(client, world.a.keys["test"], "{ " + fields + " }")).json()
    assert "data" not in body and "token" in body["errors"][0]["message"].lower()


async def test_each_document_is_parsed_and_validated_once(app, client, world, monkeypatch):
    calls: list[str] = []
    for name in ("parse", "validate"):
        real = getattr(execution, name)
        monkeypatch.setattr(execution, name, lambda *args, _real=real, _name=name, **kwargs: calls.append(_name) or _real(*args, **kwargs))
    for _ in range(3):
        assert (await gql(client, world.a.keys["test"], VIEWER)).json()["data"]["viewer"]["kind"] == "KEY"
    assert calls == ["parse", "validate"]
    # A broken document is remembered too, with its error.
    for _ in range(2):
        assert "data" not in (await gql(client, world.a.keys["test"], "{ viewer { nope } }")).json()
    assert calls == ["parse", "validate"] * 2
    assert app.state.schema.executor.prepare.cache_info().hits == 3


async def test_unexpected_errors_are_masked_and_logged_with_request_id(client, world, monkeypatch, caplog):
    from server.services import records

    async def explode(*args, **kwargs):
        raise RuntimeError("secret internals: SELECT * FROM api_key")

    monkeypatch.setattr(records, "get_record", explode)
    response = await gql(client, world.a.keys["test"], '{ record(id: "rec_x") { id } }')
    error = response.json()["errors"][0]
    assert error["message"] == "Unexpected error." and error_codes(response.json()) == ["INTERNAL_ERROR"]
    assert "SELECT" not in response.text
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    assert any(response.headers["x-request-id"] in r.getMessage() and r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ viewer { kind }", {}, "GRAPHQL_PARSE_FAILED"),
        ("{ nothingHere }", {}, "GRAPHQL_VALIDATION_FAILED"),
        ("query($first: Int) { records(endpoint: \"ep_x\", first: $first) { edges { cursor } } }", {"first": "ten"}, "VALIDATION_FAILED"),
    ],
)
async def test_errors_before_execution_have_codes_and_statuses(client, world, query, variables, code):
    for accept, status in (("application/json", 200), ("application/graphql-response+json", 400)):
        response = await gql(client, world.a.keys["test"], query, variables, Accept=accept)
        body = response.json()
        assert response.status_code == status and "data" not in body and error_codes(body) == [code]
        assert response.headers["content-type"].startswith(accept)
    if code == "VALIDATION_FAILED":
        assert "first" in body["errors"][0]["extensions"]["fields"]


async def test_a_failure_outside_execution_is_masked_too(client, world, monkeypatch, caplog):
    from server.graphql import http

    async def broken(*args, **kwargs):
        raise RuntimeError("database is locked: /var/lib/secret/path")

    monkeypatch.setattr(http, "authenticate", broken)
    response = await gql(client, world.a.keys["test"], "{ viewer { kind } }")
    assert response.status_code == 500 and error_codes(response.json()) == ["INTERNAL_ERROR"]
    assert "secret" not in response.text and response.json()["errors"][0]["extensions"]["requestId"] == response.headers["x-request-id"]
    assert any(response.headers["x-request-id"] in r.getMessage() for r in caplog.records)
