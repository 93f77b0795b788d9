"""Fuzzing /graphql with schemathesis (GraphQL mode), as a partner key and as a signed-in person.

For every root field of the schema (26), schemathesis generates queries and
mutations (hypothesis-graphql; valid and invalid ones) and sends them to the
real app in process (ASGI), on a fresh migrated database seeded with two
workspaces, their endpoints, partners, keys, people and records. One run
sends A's test key (`Authorization: Bearer`), the other the session of A's
owner (cookie + `Sec-Fetch-Site: same-origin`). Every response must pass:

- `no_5xx`: no HTTP status of 500 or more;
- `no_masked_error`: no `INTERNAL_ERROR`, no "Unexpected error.";
- `graphql_response_shape`: a JSON object with `data` and / or a non-empty
  `errors` list of well-formed errors, each with an `extensions.code` of our
  vocabulary (README: "Errors carry `extensions.code`"), and `data` that fits
  the schema for the query sent: every selected field present with a value of
  its type, a non-null field null only where an error at or below it says why;
- `authenticated`: no `UNAUTHENTICATED`, no 401 / 403, so the run cannot
  quietly fuzz only the front door.

After every mutation that succeeds, everything the principal can see is read
back (a query built from the schema) under the same checks: a write must not
leave data that later breaks a read.

Ids are random per database, so generated ID arguments draw placeholders
("@orders_a") that each test replaces with its own ids before sending;
dictionaries also feed boundary strings, cursors, field names, names, emails,
passwords and rate limits, so that requests get past "not found" and input
validation. schemathesis's `not_a_server_error` is not used: in GraphQL mode it
counts every error with a `path` as a server error, so each NOT_FOUND /
FORBIDDEN / VALIDATION_FAILED our resolvers answer by design would fail it;
`no_5xx` + `no_masked_error` are that check in our vocabulary.

The schema is the one the code builds (`schema.graphql` is kept equal to it by
test_schema), loaded at import so that `schema.parametrize()` can make one test
per field: `schemathesis.pytest.from_fixture` fails on pytest 9.2 (it writes
`Function._nodeid`, which pytest 9.2 no longer has).

Budget: MAX_EXAMPLES per field and principal, derandomized (the same requests
on every run), no example database, no deadline; about a minute for both runs.
A failure prints the falsifying request as a curl command (credentials
filtered) and the server's traceback in the captured log.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import graphql
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi as schemathesis_asgi

import server.errors
from server.app import create_app
from server.db import open_database
from server.graphql.schema import build_schema
from server.services import records as record_service
from server.services.records import encode_cursor
from server.services.verification import principal_for
from server.settings import Settings
from tests.conftest import ORDER, ORDER_FIELDS, SECRET, _tenant, key_id
from tests.people import PASSWORD, SESSION_COOKIE, USER_AGENT, make_person

# Examples per root field and per principal: 26 fields x 2 principals x 50 take
# about a minute here. FUZZ_EXAMPLES=500 digs deeper locally; CI uses the default.
MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))

# ---------------------------------------------------------------- generation

# GraphQL literals for the JSON scalar (record data, batches). Object keys must
# be GraphQL names in a literal; the endpoint's own field names come up often
# so that some records pass validation and reach storage.
FIELD_NAMES = st.sampled_from(["customer", "amount", "note", "email", "id", "data"]) | st.from_regex(r"\A[_A-Za-z][_0-9A-Za-z]{0,12}\Z")
JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80)
    | st.sampled_from(["Ada", "ada@example.com", "", "x" * 51])
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(FIELD_NAMES, children, max_size=5),
    max_leaves=12,
)
JSON_DATA = st.fixed_dictionaries({"customer": st.text(max_size=60), "amount": st.integers() | st.floats(allow_nan=False, allow_infinity=False)}) | JSON_VALUES


def value_node(value: Any) -> graphql.ValueNode:
    if value is None:
        return graphql.NullValueNode()
    if isinstance(value, bool):
        return graphql.BooleanValueNode(value=value)
    if isinstance(value, int):
        return graphql.IntValueNode(value=str(value))
    if isinstance(value, float):
        return graphql.FloatValueNode(value=repr(value))
    if isinstance(value, str):
        return graphql.StringValueNode(value=value)
    if isinstance(value, list):
        return graphql.ListValueNode(values=tuple(value_node(v) for v in value))
    return graphql.ObjectValueNode(
        fields=tuple(graphql.ObjectFieldNode(name=graphql.NameNode(value=k), value=value_node(v)) for k, v in value.items())
    )


schemathesis.graphql.scalar("JSON", JSON_DATA.map(value_node))

# DateTime (key expiry): ISO 8601 over the whole range of years, with or without
# a UTC offset (schemathesis's own strategy only makes "...Z"): the ends of the
# range with the widest offsets, any date-time, and text that is not one.
OFFSETS = st.sampled_from(["Z", ""]) | st.builds("{}{:02d}:{:02d}".format, st.sampled_from("+-"), st.integers(0, 23), st.integers(0, 59))
RANGE_ENDS = st.builds(
    "{}T{}{}".format,
    st.sampled_from(["9999-12-31", "0001-01-01"]),
    st.sampled_from(["23:59:59.999999", "00:00:00"]),
    st.sampled_from(["-23:59", "+23:59", "Z", ""]),
)
DATE_TIMES = (
    RANGE_ENDS
    | st.builds("{}T{}{}".format, st.dates().map(str), st.times().map(str), OFFSETS)
    | st.sampled_from(["", "now", "2030-02-30T00:00:00Z", "2030-01-01", "1e9"])
)
schemathesis.graphql.scalar("DateTime", DATE_TIMES.map(value_node))


# ---------------------------------------------------------------- checks

GRAPHQL_CODES = {"GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED"}


def _our_codes() -> set[str]:
    found, todo = set(), [server.errors.ThreeminError]
    while todo:
        cls = todo.pop()
        found.add(cls.code)
        todo.extend(cls.__subclasses__())
    return found | GRAPHQL_CODES


def _body(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        raise AssertionError(f"HTTP {response.status_code}: the body is not JSON: {response.content[:300]!r}") from None


def no_5xx(ctx: Any, response: Any, case: Any) -> None:
    assert response.status_code < 500, f"HTTP {response.status_code}: {response.content[:500]!r}"


def no_masked_error(ctx: Any, response: Any, case: Any) -> None:
    body = _body(response)
    for error in body.get("errors") or [] if isinstance(body, dict) else []:
        code = (error.get("extensions") or {}).get("code") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        assert code != "INTERNAL_ERROR" and message != "Unexpected error.", f"masked unexpected error: {error}"


def authenticated(ctx: Any, response: Any, case: Any) -> None:
    body = _body(response)
    codes = [(e.get("extensions") or {}).get("code") for e in (body.get("errors") or [])] if isinstance(body, dict) else []
    assert response.status_code not in (401, 403) and "UNAUTHENTICATED" not in codes, (
        f"the request was not authenticated (HTTP {response.status_code}, {body}): the fuzz would test only the front door"
    )


def graphql_response_shape(ctx: Any, response: Any, case: Any) -> None:
    media_type = response.headers.get("content-type", [""])
    media_type = (media_type[0] if isinstance(media_type, list) else media_type).split(";")[0].strip()
    assert media_type in ("application/json", "application/graphql-response+json"), f"content type {media_type!r}"
    body = _body(response)
    assert isinstance(body, dict), f"not a JSON object: {body!r}"
    assert set(body) <= {"data", "errors", "extensions"}, f"unexpected top-level keys: {sorted(body)}"
    assert "data" in body or "errors" in body, f"neither data nor errors: {body}"
    if "data" not in body:
        assert body.get("errors"), f"no data and no errors: {body}"
    assert body.get("data") is None or isinstance(body["data"], dict), f"data is not an object: {body['data']!r}"
    if "errors" in body:
        errors = body["errors"]
        assert isinstance(errors, list) and errors, f"errors must be a non-empty list: {errors!r}"
        codes = _our_codes()
        for error in errors:
            assert isinstance(error, dict) and isinstance(error.get("message"), str), f"malformed error: {error!r}"
            assert set(error) <= {"message", "locations", "path", "extensions"}, f"unexpected error keys: {error}"
            for location in error.get("locations", []):
                assert isinstance(location.get("line"), int) and isinstance(location.get("column"), int), error
            assert all(isinstance(p, str | int) for p in error.get("path", [])), error
            extensions = error.get("extensions")
            assert isinstance(extensions, dict) and extensions.get("code") in codes, f"error without one of our codes: {error}"
    if body.get("data") is not None:
        errors = body.get("errors") or []
        problems = DataChecker(case.operation.schema.client_schema, case.body, errors).check(body["data"])
        assert not problems, "data does not fit the schema:\n" + "\n".join(problems[:10]) + f"\nresponse: {body}"


class DataChecker:
    """Walks the query's selection against the schema and the response data."""

    def __init__(self, schema: graphql.GraphQLSchema, document: Any, errors: list[dict[str, Any]]) -> None:
        self.schema = schema
        self.document = graphql.parse(document["query"] if isinstance(document, dict) else document)
        self.error_paths = [tuple(e.get("path") or ()) for e in errors]
        self.fragments = {d.name.value: d for d in self.document.definitions if isinstance(d, graphql.FragmentDefinitionNode)}
        self.problems: list[str] = []

    def check(self, data: dict[str, Any]) -> list[str]:
        operation = next(d for d in self.document.definitions if isinstance(d, graphql.OperationDefinitionNode))
        root = self.schema.mutation_type if operation.operation == graphql.OperationType.MUTATION else self.schema.query_type
        self._object(root, operation.selection_set, data, ())
        return self.problems

    def _explained(self, path: tuple[Any, ...]) -> bool:
        """A null here is allowed if an error was raised at this path or below it."""
        return any(p[: len(path)] == path for p in self.error_paths)

    def _collect(self, type_: graphql.GraphQLObjectType, selection_set: graphql.SelectionSetNode) -> dict[str, list[graphql.FieldNode]]:
        fields: dict[str, list[graphql.FieldNode]] = {}
        for selection in selection_set.selections:
            if isinstance(selection, graphql.FieldNode):
                fields.setdefault((selection.alias or selection.name).value, []).append(selection)
            else:
                if isinstance(selection, graphql.FragmentSpreadNode):
                    fragment = self.fragments[selection.name.value]
                    condition, inner = fragment.type_condition, fragment.selection_set
                else:
                    condition, inner = selection.type_condition, selection.selection_set
                if condition is not None:
                    wanted = self.schema.get_type(condition.name.value)
                    if not (wanted is type_ or (graphql.is_abstract_type(wanted) and self.schema.is_sub_type(wanted, type_))):
                        continue
                for key, nodes in self._collect(type_, inner).items():
                    fields.setdefault(key, []).extend(nodes)
        return fields

    def _object(self, type_: graphql.GraphQLObjectType, selection_set: graphql.SelectionSetNode, value: Any, path: tuple[Any, ...]) -> None:
        if not isinstance(value, dict):
            self.problems.append(f"{'.'.join(map(str, path)) or 'data'}: expected an object of {type_.name}, got {value!r:.100}")
            return
        fields = self._collect(type_, selection_set)
        if set(value) != set(fields):
            self.problems.append(f"{'.'.join(map(str, path)) or 'data'}: keys {sorted(value)} != selected {sorted(fields)}")
        for key, nodes in fields.items():
            if key not in value:
                continue
            name = nodes[0].name.value
            if name == "__typename":
                if value[key] != type_.name:
                    self.problems.append(f"{'.'.join(map(str, path + (key,)))}: __typename {value[key]!r} != {type_.name}")
                continue
            definition = type_.fields.get(name)
            if definition is None:
                self.problems.append(f"{type_.name}.{name} is not in the schema")
                continue
            merged = graphql.SelectionSetNode(selections=tuple(s for n in nodes if n.selection_set for s in n.selection_set.selections))
            self._value(definition.type, merged, value[key], path + (key,))

    def _value(self, type_: graphql.GraphQLOutputType, selection_set: graphql.SelectionSetNode, value: Any, path: tuple[Any, ...]) -> None:
        where = ".".join(map(str, path))
        if graphql.is_non_null_type(type_):
            if value is None:
                if not self._explained(path):
                    self.problems.append(f"{where}: null in a non-null {type_} field, and no error at or below it")
                return
            type_ = type_.of_type
        if value is None:
            return
        if graphql.is_list_type(type_):
            if not isinstance(value, list):
                self.problems.append(f"{where}: expected a list, got {value!r:.100}")
                return
            for index, item in enumerate(value):
                self._value(type_.of_type, selection_set, item, path + (index,))
            return
        if graphql.is_abstract_type(type_):
            if not isinstance(value, dict) or not isinstance(value.get("__typename"), str):
                return  # cannot tell the concrete type without __typename; hypothesis-graphql always asks for it
            concrete = self.schema.get_type(value["__typename"])
            if not isinstance(concrete, graphql.GraphQLObjectType) or not self.schema.is_sub_type(type_, concrete):
                self.problems.append(f"{where}: __typename {value['__typename']!r} is not a {type_.name}")
                return
            type_ = concrete
        if isinstance(type_, graphql.GraphQLObjectType):
            self._object(type_, selection_set, value, path)
            return
        if isinstance(type_, graphql.GraphQLEnumType):
            if value not in type_.values:
                self.problems.append(f"{where}: {value!r} is not a value of {type_.name}")
            return
        expected = SCALAR_CHECKS.get(type_.name)
        if expected is not None and not expected(value):
            self.problems.append(f"{where}: {value!r:.100} is not a valid {type_.name}")


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


SCALAR_CHECKS = {
    "ID": lambda v: isinstance(v, str),
    "String": lambda v: isinstance(v, str),
    "Boolean": lambda v: isinstance(v, bool),
    "Int": lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31,
    "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "DateTime": _is_datetime,
    "JSON": lambda v: True,
}

CHECKS = [no_5xx, no_masked_error, graphql_response_shape, authenticated]


# ---------------------------------------------------------------- the service under test

# Object ids are random per database, so the fuzzer draws placeholders
# ("@orders_a") for them and each test puts in the ids of its own freshly
# seeded database just before sending. An argument gets an id of the right
# kind most of the time (a real endpoint for `endpoint`), any known id some of
# the time, and a generated value otherwise.
KINDS = {
    "workspace": ["workspace_a", "workspace_b"],
    "endpoint": ["orders_a", "leads_a", "orders_b"],
    "partner": ["acme_a", "globex_a", "acme_b"],
    "key": ["key_test_a", "key_live_a", "key_test_b"],
    "user": ["user_owner_a", "user_admin_a", "user_viewer_a", "user_owner_b"],
    "record": ["record_0", "record_1", "record_2"],
}
PLACEHOLDERS = [name for names in KINDS.values() for name in names]
PLACEHOLDER = re.compile('"@(' + "|".join(PLACEHOLDERS) + ')"')
# Which kind of id each ID argument names, by `Type.field.argument`.
ID_ARGUMENTS = {
    "*.*.workspace": "workspace",
    "*.*.endpoint": "endpoint",
    "*.*.partner": "partner",
    "*.*.key": "key",
    "*.*.user": "user",
    "*.*.input.workspace": "workspace",
    "*.*.input.endpoint": "endpoint",
    "*.*.input.partner": "partner",
    "Query.workspace.id": "workspace",
    "Query.key.id": "key",
    "Query.record.id": "record",
    "Mutation.updateRecord.id": "record",
    "Mutation.deleteRecord.id": "record",
    **{f"Mutation.{name}.id": "endpoint" for name in ("updateEndpoint", "archiveEndpoint")},
    **{f"Mutation.{name}.id": "partner" for name in ("updatePartner", "archivePartner")},
    **{
        f"Mutation.{name}.id": "key"
        for name in ("deactivateKey", "reactivateKey", "rollKey", "deleteKey", "setKeyPermissions", "createClaimLink")
    },
}
# Boundary values any string or id argument may get besides real ids: empty,
# long, odd characters, injection-shaped, a prefix without a body.
ODD_STRINGS = ["", " ", "x" * 64, "x" * 1000, "ws_", "é\u0000\u202e🙂", "' OR '1'='1", "../../etc/passwd", "%00", "null"]
CURSORS = [encode_cursor(n) for n in (0, 1, 2, 3, 10**6)]
FIELD_NAMES_ARGUMENTS = ["*.*.input.readableFields[*]", "*.*.input.writableFields[*]"]


def fuzz_config() -> SchemathesisConfig:
    def bind(dictionary: str, probability: float = 0.7) -> dict[str, Any]:
        return {"dictionary": dictionary, "probability": probability}

    return SchemathesisConfig.from_dict(
        {
            "base-url": "http://testserver/graphql",
            "seed": 20261201,
            "dictionaries": {
                "any_id": {"values": [f"@{name}" for name in PLACEHOLDERS] + ODD_STRINGS[:4]},
                **{kind: {"values": [f"@{name}" for name in names] + ODD_STRINGS[:3]} for kind, names in KINDS.items()},
                "odd": {"values": ODD_STRINGS},
                "workspace_a": {"values": ["@workspace_a"]},
                "partners_a": {"values": ["@acme_a", "@globex_a"]},
                "endpoints_a": {"values": ["@orders_a", "@leads_a"]},
                "cursors": {"values": CURSORS + ODD_STRINGS[:3]},
                "fields": {"values": [definition["name"] for definition in ORDER_FIELDS] + ["email", "id"]},
                "names": {"values": ["Shop", "Orders 2027", "x" * 100, "x" * 101, "é🙂", "<b>x</b>"]},
                "emails": {"values": ["new@alpha.example", "olivia@alpha.example", "bea@beta.example", "no-at-sign", "a@b"]},
                "passwords": {"values": [PASSWORD, "a much longer new password 1", "short"]},
                "rates": {"values": [1, 600, 100000, 100001, 0, -1]},
            },
            "parameters": {
                "*.*.id": bind("any_id", 0.5),
                **{argument: bind(kind) for argument, kind in ID_ARGUMENTS.items()},
                **{argument: bind("fields") for argument in FIELD_NAMES_ARGUMENTS},
                "*.*.after": bind("cursors"),
                "*.*.name": bind("names", 0.5),
                "*.*.email": bind("emails"),
                "*.*.currentPassword": bind("passwords", 0.5),
                "*.*.newPassword": bind("passwords", 0.5),
                "*.*.input.rateLimit": bind("rates", 0.5),
                # issueKey needs a workspace, partner and endpoint that belong together: mostly A's.
                "Mutation.issueKey.input.workspace": bind("workspace_a", 0.9),
                "Mutation.issueKey.input.partner": bind("partners_a", 0.9),
                "Mutation.issueKey.input.endpoint": bind("endpoints_a", 0.9),
            },
            "generation": {
                # Every other String / ID argument (names, emails, filters): an odd value now and then.
                "dictionaries": {"string": bind("odd", 0.2)},
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
        }
    )


# The schema the code builds (no database needed); schema.graphql is kept equal to it by test_schema.
schema = schemathesis.graphql.from_dict(build_schema(Settings()).introspect(), config=fuzz_config())


def full_selection(type_: graphql.GraphQLNamedType, depth: int, seen: frozenset[str] = frozenset()) -> str:
    """Every field reachable without required arguments, `depth` object levels deep."""
    if not isinstance(type_, graphql.GraphQLObjectType):
        return ""
    parts = []
    for name, definition in type_.fields.items():
        if any(graphql.is_required_argument(arg) for arg in definition.args.values()):
            continue
        inner = graphql.get_named_type(definition.type)
        if isinstance(inner, graphql.GraphQLObjectType):
            if depth <= 1 or inner.name in seen:
                continue
            sub = full_selection(inner, depth - 1, seen | {type_.name})
            if sub:
                parts.append(f"{name} {{ {sub} }}")
        else:
            parts.append(name)
    return " ".join(parts)


def read_back_queries(client_schema: graphql.GraphQLSchema) -> dict[str, str]:
    """Documents that read everything the principal can see, built from the schema (so they follow it)."""
    query = client_schema.query_type
    assert query is not None

    def root(name: str, arguments: str = "") -> str:
        return f"{name}{arguments} {{ {full_selection(graphql.get_named_type(query.fields[name].type), 4)} }}"

    viewer = root("viewer")
    workspace = root("workspace", '(id: "@workspace_a")')
    records = root("records", '(endpoint: "@orders_a", first: 200, environment: TEST)')
    return {"key": f"query ReadBack {{ {viewer} {records} }}", "session": f"query ReadBack {{ {viewer} {workspace} {records} }}"}


READ_BACK = read_back_queries(schema.client_schema)


@dataclass
class Target:
    """The app, one principal's headers, and the ids of this test's database."""

    app: Any
    principal: str  # "key" or "session"
    headers: dict[str, str]
    ids: dict[str, str]
    writes: list[str] = field(default_factory=list)  # mutations that succeeded so far, in order

    def fill(self, document: str) -> str:
        return PLACEHOLDER.sub(lambda m: f'"{self.ids[m.group(1)]}"', document)

    def send(self, case: Any) -> None:
        if isinstance(case.body, str):
            case.body = self.fill(case.body)
        response = case.call_and_validate(app=self.app, headers=self.headers, checks=CHECKS)
        body = response.json()
        if case.operation.label.startswith("Mutation.") and body.get("data") and not body.get("errors"):
            # A write that succeeded must leave everything readable: read it all back.
            self.writes.append(case.body)
            read_back = case.operation.Case(body=self.fill(READ_BACK[self.principal]), media_type="application/json")
            try:
                read_back.call_and_validate(app=self.app, headers=self.headers, checks=CHECKS)
            except BaseException as error:
                error.add_note(
                    "Reading everything back failed after this mutation (the last of those that succeeded in this test, "
                    "on a fresh database):\n\n" + "\n----\n".join(self.writes)
                )
                raise


async def _seed(settings: Settings) -> tuple[dict[str, str], dict[str, str]]:
    async with open_database(settings, migrate=False):
        a, b = await _tenant("Alpha"), await _tenant("Beta")
        people = {
            "user_owner_a": await make_person(settings, a.workspace, "owner", "olivia@alpha.example"),
            "user_admin_a": await make_person(settings, a.workspace, "admin", "adam@alpha.example"),
            "user_viewer_a": await make_person(settings, a.workspace, "viewer", "vera@alpha.example"),
            "user_owner_b": await make_person(settings, b.workspace, "owner", "bea@beta.example"),
        }
        principal = await principal_for(a.keys["test"], SECRET, datetime.now(UTC))
        rows = [await record_service.create_record(principal, a.orders, {**ORDER, "note": f"n{i}"}, max_bytes=65536) for i in range(3)]
        ids = {
            "workspace_a": a.workspace, "workspace_b": b.workspace, "orders_a": a.orders, "leads_a": a.leads,
            "orders_b": b.orders, "acme_a": a.acme, "globex_a": a.globex, "acme_b": b.acme,
            "key_test_a": await key_id(a.keys["test"]), "key_live_a": await key_id(a.keys["live"]),
            "key_test_b": await key_id(b.keys["test"]),
            **{name: person.user_id for name, person in people.items()},
            **{f"record_{i}": row.id for i, row in enumerate(rows)},
        }  # fmt: skip
        assert set(ids) == set(PLACEHOLDERS)
        credentials = {"key": a.keys["test"], "session": people["user_owner_a"].token}
        return ids, credentials


@pytest.fixture
def seeded(settings: Settings) -> Iterator[tuple[Any, dict[str, str], dict[str, str]]]:
    # Rate limits off: the fuzzer sends far more than a partner's 600 per minute,
    # and RATE_LIMITED would hide what the request would have done.
    settings = settings.replace(key_rate_limit=0, partner_rate_limit=0)
    ids, credentials = asyncio.run(_seed(settings))
    # The app opens its own database in its lifespan, which schemathesis runs
    # in its event loop thread until the test ends.
    yield create_app(settings), ids, credentials
    schemathesis_asgi.shutdown_lifespans()


@pytest.fixture
def as_key(seeded) -> Target:
    app, ids, credentials = seeded
    return Target(app, "key", {"Authorization": f"Bearer {credentials['key']}"}, ids)


@pytest.fixture
def as_session(seeded) -> Target:
    app, ids, credentials = seeded
    headers = {"Cookie": f"{SESSION_COOKIE}={credentials['session']}", "Sec-Fetch-Site": "same-origin", "User-Agent": USER_AGENT}
    return Target(app, "session", headers, ids)


FUZZ = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)


@schema.parametrize()
@FUZZ
def test_fuzz_graphql_with_a_partner_key(case, as_key: Target) -> None:
    as_key.send(case)


@schema.parametrize()
@FUZZ
def test_fuzz_graphql_with_a_session(case, as_session: Target) -> None:
    as_session.send(case)
