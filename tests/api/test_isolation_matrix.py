"""The isolation matrix (issue 6, item 3): every operation, by every kind of principal, on workspace A's objects.

Rows (OPS) are the API's queries and mutations, each aimed at one object of A;
columns (WHO) are the principal kinds. The expected answer of a cell comes from
one of the rules below, which restate DESIGN.md's "Authorization":

  manage(role)  people of A with `role` or more: allowed; lower roles: FORBIDDEN;
                collaboration keys (any workspace): FORBIDDEN; people of B: NOT_FOUND
  read          records / record: every person of A (naming the environment); a key
                of A's orders endpoint on data of its own environment; others NOT_FOUND
  write         updateRecord / deleteRecord: that same key only; other keys NOT_FOUND,
                people FORBIDDEN (records are written by keys)
  create        createRecord(s): a key of A's orders endpoint (it writes its own
                environment, whichever data it aimed at); other keys NOT_FOUND, people FORBIDDEN
  anyone        any valid principal;  people_only: people, keys FORBIDDEN
  (no credentials at all: UNAUTHENTICATED, 401, for every row)

Every cell also checks: a refusal changes no row (tests.people.snapshot), never
echoes the id it was asked about, and, unless the caller is a member of A (who
may know A's objects), gives the very body that a made-up id of the same prefix
gets: guessing ids never reveals existence. An allowed answer shows the object,
only data of the expected environment, nothing of A to people or keys of B, and
changes rows exactly when it is a mutation.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphql
import pytest

from server.ids import new_id
from server.keys import Environment
from server.models import Record
from server.policy import OPERATOR
from server.services import keys as key_service
from server.services.audit import CLI
from server.services.keys import Handover, KeyGrant
from server.settings import Settings
from tests.api.test_isolation import _strip_request_ids
from tests.conftest import ORDER, SECRET, error_codes, gql, issue, key_id
from tests.people import gql_as, people_fixture, snapshot  # noqa: F401  (the fixture `people`)

OK, FORBIDDEN, NOT_FOUND, UNAUTHENTICATED = "allowed", "FORBIDDEN", "NOT_FOUND", "UNAUTHENTICATED"
RANK = {"viewer": 0, "admin": 1, "owner": 2}


# --- principals -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    name: str
    ws: str | None = None  # "a" / "b": the workspace the person or key belongs to
    role: str | None = None  # people: owner / admin / viewer
    key: tuple[str, str] | None = None  # keys (all four permissions): (endpoint, environment)
    data: str = "test"  # the environment of A's records this principal aims at

    @property
    def member_of_a(self) -> bool:
        return self.ws == "a" and self.role is not None


WHO = [
    Who("owner", "a", role="owner"),
    Who("admin", "a", role="admin"),
    Who("viewer", "a", role="viewer"),
    Who("key", "a", key=("orders", "test")),  # the control: A's test key on A's test data
    Who("key-other-endpoint", "a", key=("leads", "test")),
    Who("test-key-on-live", "a", key=("orders", "test"), data="live"),
    Who("live-key-on-test", "a", key=("orders", "live"), data="test"),
    Who("owner-b", "b", role="owner"),
    Who("key-b-test", "b", key=("orders", "test")),
    Who("key-b-live", "b", key=("orders", "live"), data="live"),
    Who("nobody"),
]


# --- rules --------------------------------------------------------------------------------------

Rule = Callable[[Who], str]


def manage(need: str) -> Rule:
    def rule(who: Who) -> str:
        if who.role is None:
            return FORBIDDEN
        if who.ws != "a":
            return NOT_FOUND
        return OK if RANK[who.role] >= RANK[need] else FORBIDDEN

    return rule


def reaches(who: Who) -> bool:
    return who.ws == "a" and who.key == ("orders", who.data)


def read(who: Who) -> str:
    if who.role is not None:
        return OK if who.ws == "a" else NOT_FOUND
    return OK if reaches(who) else NOT_FOUND


def write(who: Who) -> str:
    return FORBIDDEN if who.role is not None else OK if reaches(who) else NOT_FOUND


def create(who: Who) -> str:
    if who.role is not None:
        return FORBIDDEN
    return OK if who.ws == "a" and who.key is not None and who.key[0] == "orders" else NOT_FOUND


def anyone(who: Who) -> str:
    return OK


def people_only(who: Who) -> str:
    return OK if who.role is not None else FORBIDDEN


VIEWER, ADMIN, OWNER = manage("viewer"), manage("admin"), manage("owner")


# --- operations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    name: str
    rule: Rule
    doc: str
    variables: dict[str, str]  # variable -> object it holds (see `objects`); the first is the one probed
    shows: str | None = None  # an allowed answer contains this object's id

    @property
    def field(self) -> str:
        return re.search(r"\{\s*(\w+)", self.doc).group(1)

    @property
    def mutation(self) -> bool:
        return self.doc.startswith("mutation")

    @property
    def target(self) -> str | None:
        return next(iter(self.variables), None)


def op(name: str, rule: Rule, doc: str, shows: str | None = None, **variables: str) -> Op:
    return Op(name, rule, doc, variables, shows)


WS = "query($ws: ID!) {{ workspace(id: $ws) {{ {} }} }}"
ISSUE = "mutation($ws: ID!, $p: ID!, $e: ID!) { issueKey(input: {workspace: $ws, partner: $p, endpoint: $e, environment: TEST, permissions: [READ]}) { key { id } } }"
ROLE = "mutation($ws: ID!, $u: ID!) { changeMemberRole(workspace: $ws, user: $u, role: ADMIN) { role } }"
REMOVE = "mutation($ws: ID!, $u: ID!) { removeMember(workspace: $ws, user: $u) }"

OPS = [
    op("viewer", anyone, "query { viewer { kind key { id } user { id } workspaces { id } } }"),
    op("changePassword", people_only, 'mutation { changePassword(currentPassword: "correct horse battery staple", newPassword: "a new passphrase for the matrix") }'),
    # the workspace, and what it lists
    op("workspace", VIEWER, WS.format("id name role"), "ws", ws="ws"),
    op("workspace.endpoints", VIEWER, WS.format("endpoints { id fields { name } }"), "leads", ws="ws"),
    op("workspace.partners", VIEWER, WS.format("partners { id name }"), "globex", ws="ws"),
    op("workspace.keys", VIEWER, WS.format("keys { id display partner { id } endpoint { id } }"), "key", ws="ws"),
    op("workspace.members", VIEWER, WS.format("members { role user { id email } }"), "member", ws="ws"),
    op("workspace.auditEvents", VIEWER, WS.format("auditEvents { edges { node { action targetId } } }"), "key", ws="ws"),
    op("createEndpoint", OWNER, 'mutation($ws: ID!) { createEndpoint(workspace: $ws, name: "invoices", fields: [{name: "total", type: NUMBER}]) { id } }', ws="ws"),
    op("createPartner", ADMIN, 'mutation($ws: ID!) { createPartner(workspace: $ws, name: "Initech") { id } }', ws="ws"),
    op("issueKey", ADMIN, ISSUE, ws="ws", p="acme", e="orders"),
    op("inviteMember", OWNER, 'mutation($ws: ID!) { inviteMember(workspace: $ws, email: "new@alpha.example", role: VIEWER) { url } }', ws="ws"),
    # endpoints
    op("updateEndpoint", OWNER, 'mutation($id: ID!) { updateEndpoint(id: $id, name: "orders-renamed") { id } }', "orders", id="orders"),
    op("archiveEndpoint", OWNER, "mutation($id: ID!) { archiveEndpoint(id: $id) { id } }", "leads", id="leads"),
    op("issueKey-for-endpoint", ADMIN, ISSUE, e="leads", ws="home", p="home_acme"),  # joined from the caller's own workspace
    # partners
    op("updatePartner", ADMIN, 'mutation($id: ID!) { updatePartner(id: $id, name: "Globex AG") { id } }', "globex", id="globex"),
    op("archivePartner", ADMIN, "mutation($id: ID!) { archivePartner(id: $id) { id } }", "globex", id="globex"),
    op("issueKey-for-partner", ADMIN, ISSUE, p="globex", ws="home", e="home_orders"),
    # keys (a claimed key of Globex; `unclaimed` waits for its claim link)
    op("key", VIEWER, "query($id: ID!) { key(id: $id) { id status } }", "key", id="key"),
    op("deactivateKey", ADMIN, "mutation($id: ID!) { deactivateKey(id: $id) { id status } }", "key", id="key"),
    op("reactivateKey", ADMIN, "mutation($id: ID!) { reactivateKey(id: $id) { id status } }", "key", id="key"),
    op("rollKey", ADMIN, "mutation($id: ID!) { rollKey(id: $id, grace: NONE) { key { id } } }", "key", id="key"),
    op("deleteKey", ADMIN, "mutation($id: ID!) { deleteKey(id: $id) }", "key", id="key"),
    op("setKeyPermissions", ADMIN, "mutation($id: ID!) { setKeyPermissions(id: $id, input: {permissions: [READ]}) { id } }", "key", id="key"),
    op("createClaimLink", ADMIN, "mutation($id: ID!) { createClaimLink(id: $id) { key { id } } }", "unclaimed", id="unclaimed"),
    # the safety checklist, advisor and blast radius (the key is revealed, so the checklist lists it)
    op("workspace.checklist", VIEWER, WS.format("checklist { openCount items { kind findings { key { id } evidence } } }"), "key", ws="ws"),
    op("workspace.safetySettings", VIEWER, WS.format("id safetySettings { sharedKeyClients idleKeyDays }"), "ws", ws="ws"),
    op("keyUsage", VIEWER, "query($id: ID!) { keyUsage(id: $id) { key { id } days operations { operation allowed } } }", "key", id="key"),
    op("keyDryRun", VIEWER, "query($id: ID!) { keyDryRun(id: $id, proposal: {permissions: [READ]}) { wouldRefuse } }", id="key"),
    op("blastRadius", VIEWER, "query($id: ID!) { blastRadius(id: $id) { edges { node { id } } } }", id="key"),
    op("deactivateKeys", ADMIN, "mutation($id: ID!) { deactivateKeys(ids: [$id]) { id status } }", "key", id="key"),
    op("reduceKeyPermissions", ADMIN, "mutation($id: ID!) { reduceKeyPermissions(id: $id, to: {permissions: [READ]}) { key { id permissions } } }", "key", id="key"),
    op("replaceWithClaimLink", ADMIN, "mutation($id: ID!) { replaceWithClaimLink(id: $id, grace: NONE) { key { id status } } }", "key", id="key"),
    op("setSafetySettings", ADMIN, "mutation($ws: ID!) { setSafetySettings(workspace: $ws, input: {sharedKeyClients: 5, idleKeyDays: 90}) { sharedKeyClients } }", ws="ws"),
    # members (a viewer of A)
    op("changeMemberRole", OWNER, ROLE, u="member", ws="ws"),
    op("changeMemberRole-from-home", OWNER, ROLE, u="member", ws="home"),
    op("removeMember", OWNER, REMOVE, u="member", ws="ws"),
    op("removeMember-from-home", OWNER, REMOVE, u="member", ws="home"),
    # records (A's record in the environment the principal aims at)
    op("records", read, "query($ep: ID!, $env: Environment) { records(endpoint: $ep, environment: $env) { edges { node { id environment data } } } }", "record", ep="orders", env="env"),
    op("record", read, "query($id: ID!) { record(id: $id) { id environment data } }", "record", id="record"),
    op("createRecord", create, 'mutation($ep: ID!) { createRecord(endpoint: $ep, data: {customer: "Eve", amount: 1}) { id environment } }', ep="orders"),
    op("createRecords", create, 'mutation($ep: ID!) { createRecords(endpoint: $ep, data: [{customer: "Eve", amount: 1}]) { id environment } }', ep="orders"),
    op("updateRecord", write, "mutation($id: ID!, $data: JSON!) { updateRecord(id: $id, data: $data) { id environment data } }", "record", id="record", data="patch"),
    op("deleteRecord", write, "mutation($id: ID!) { deleteRecord(id: $id) }", "record", id="record"),
]


def expected(o: Op, who: Who) -> str:
    return UNAUTHENTICATED if who.name == "nobody" else o.rule(who)


# --- the world: A and B from tests.conftest and tests.people, plus the objects aimed at ------------


@dataclass
class Ctx:
    world: Any
    people: Any
    leads_key: str
    ids: dict[str, str] = field(default_factory=dict)  # A's objects by name

    def objects(self, who: Who) -> dict[str, Any]:
        home = self.world.b if who.ws == "b" else self.world.a
        return self.ids | {
            "record": self.ids[f"rec_{who.data}"],
            "env": who.data.upper(),
            # valid for the caller's own endpoint, so that only reachability decides (a patch is checked before the lookup)
            "patch": {"email": "eve@example.com"} if who.key and who.key[0] == "leads" else {"amount": 7},
            "home": home.workspace,
            "home_orders": home.orders,
            "home_acme": home.acme,
        }

    def variables(self, o: Op, who: Who) -> dict[str, Any]:
        objects = self.objects(who)
        return {name: objects[source] for name, source in o.variables.items()}


async def build(world, people) -> Ctx:
    a = world.a
    ctx = Ctx(world, people, await issue(a, endpoint=a.leads))
    unclaimed = await key_service.issue_key(
        OPERATOR, a.workspace, a.globex, a.orders, Environment.TEST, KeyGrant.parse(["read"]), Handover.CLAIM, Settings(secret_key=SECRET), CLI
    )
    ctx.ids = {
        "ws": a.workspace,
        "orders": a.orders,
        "leads": a.leads,
        "acme": a.acme,
        "globex": a.globex,
        "key": await key_id(await issue(a, partner=a.globex)),
        "unclaimed": unclaimed.key.id,
        "member": people.bystander.user_id,
    }
    for env in ("test", "live"):
        ctx.ids[f"rec_{env}"] = (await Record.create(endpoint_id=a.orders, environment=env, partner_id=a.acme, data=ORDER)).id
    return ctx


async def send(client, ctx: Ctx, who: Who, o: Op, variables: dict[str, Any]):
    if who.key is not None:
        endpoint, env = who.key
        tenant = getattr(ctx.world, who.ws)
        return await gql(client, ctx.leads_key if endpoint == "leads" else tenant.keys[env], o.doc, variables)
    if who.role is None:
        return await gql_as(client, None, o.doc, variables)
    person = ctx.people.owner_b if who.ws == "b" else getattr(ctx.people, who.role)
    return await gql_as(client, person.token, o.doc, variables)


def environments(value: Any) -> set[str]:
    """Every `environment` in an answer."""
    if isinstance(value, dict):
        found = {value["environment"]} if isinstance(value.get("environment"), str) else set()
        return found.union(*(environments(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(environments(v) for v in value))
    return set()


def assert_refused(response, o: Op, want: str, probed: str | None) -> None:
    body = response.json()
    assert error_codes(body) == [want], body
    if want == UNAUTHENTICATED:
        assert response.status_code == 401 and "data" not in body, body
    else:
        assert response.status_code == 200, body
        assert body["data"] in (None, {o.field: None}), body
        assert body["errors"][0]["path"][0] == o.field, body
    assert probed is None or probed not in response.text, "a refusal echoes the id it was asked about"


# --- the matrix ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", WHO, ids=[w.name for w in WHO])
@pytest.mark.parametrize("o", OPS, ids=[o.name for o in OPS])
async def test_cell(client, world, people, o: Op, who: Who):
    ctx = await build(world, people)
    want = expected(o, who)
    variables = ctx.variables(o, who)
    probed = variables.get(o.target) if o.target else None
    before = await snapshot()
    response = await send(client, ctx, who, o, variables)
    body = response.json()
    after = await snapshot()

    if want == OK:
        assert response.status_code == 200 and "errors" not in body, body
        assert body["data"][o.field] is not None, body
        if o.shows:
            assert ctx.objects(who)[o.shows] in response.text, f"{o.name} should show {o.shows}: {body}"
        own_env = who.key[1] if who.key and o.rule is create else who.data
        assert environments(body["data"]) <= {own_env.upper()}, f"{who.name} got data of another environment: {body}"
        if who.ws == "b":
            leaked = [name for name, value in ctx.ids.items() if value in response.text]
            assert not leaked, f"B's {who.name} sees A's {leaked}"
        assert (after != before) == o.mutation, "an allowed mutation changes rows; a query changes none"
        return

    assert_refused(response, o, want, probed)
    assert after == before, f"{o.name} refused for {who.name}, but the database changed"
    if probed is None or who.member_of_a:
        return
    made_up = await send(client, ctx, who, o, variables | {o.target: new_id(probed.split("_")[0])})
    assert (made_up.status_code, _strip_request_ids(made_up.json())) == (response.status_code, _strip_request_ids(body)), (
        f"{who.name} can tell A's {o.variables[o.target]} from a made-up id"
    )
    assert await snapshot() == before


def test_every_operation_of_the_schema_has_a_row():
    """A new query, mutation or list of a workspace cannot be added without its row here."""
    schema = graphql.build_schema((Path(__file__).parents[2] / "schema.graphql").read_text())
    fields = {*schema.query_type.fields, *schema.mutation_type.fields}
    fields |= {f"workspace.{name}" for name, f in schema.get_type("Workspace").fields.items() if isinstance(graphql.get_named_type(f.type), graphql.GraphQLObjectType)}
    covered = {o.field for o in OPS} | {o.name for o in OPS}
    assert fields <= covered, sorted(fields - covered)
