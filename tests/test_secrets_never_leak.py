"""A whole session at DEBUG logging: no key, session token, claim token or password escapes.

It signs in through the page, issues a key that is revealed once and one that
is claimed by link, uses them, rolls one, and makes requests fail on purpose.
Then every log line, every audit event and every response body is searched
for every secret: each key may appear only in the one response that revealed
it, and nothing else may appear anywhere.
"""

from __future__ import annotations

import logging
import re

import httpx

from server.dashboard.screens import csrf_token
from server.models import AuditEvent, Session
from server.observability.logs import JsonFormatter
from server.services import accounts
from tests.conftest import SECRET

PASSWORD = "a password nobody may see 1"
KEY = re.compile(r"tm_(?:test|live)_[0-9A-Za-z]{36}")


async def test_nothing_secret_reaches_logs_audit_or_pages(client, world, settings, caplog):
    caplog.set_level(logging.DEBUG)
    responses: list[httpx.Response] = []

    async def call(method: str, url: str, **kwargs) -> httpx.Response:
        response = await client.request(method, url, **kwargs)
        responses.append(response)
        return response

    a = world.a
    user = await accounts.create_user("owner@alpha.example", "Owner", PASSWORD, settings)
    from server.models import Membership

    await Membership.create(workspace_id=a.workspace, user_id=user.id, role="owner")
    same_origin = {"Sec-Fetch-Site": "same-origin"}
    await call("POST", "/login", data={"email": "owner@alpha.example", "password": "wrong password, also secret"}, headers=same_origin)
    signed_in = await call("POST", "/login", data={"email": "owner@alpha.example", "password": PASSWORD}, headers=same_origin)
    session = signed_in.cookies["threemin_session"]
    page = {**same_origin, "Cookie": f"threemin_session={session}"}
    csrf = csrf_token(SECRET, session)

    base = {"csrf": csrf, "partner": a.acme, "endpoint": a.orders, "environment": "TEST", "permission-CREATE": "1", "permission-READ": "1"}
    revealed = await call("POST", f"/w/{a.workspace}/keys", data={**base, "handover": "REVEAL"}, headers=page)
    [secret] = KEY.findall(revealed.text)
    claimed_link = await call("POST", f"/w/{a.workspace}/keys", data={**base, "handover": "CLAIM"}, headers=page)
    [claim_url] = re.findall(r'value="(http[^"]+/claim/[^"]+)"', claimed_link.text)
    claim_path = "/claim/" + claim_url.rsplit("/", 1)[1]
    await call("GET", claim_path)
    claim = await call("POST", claim_path, headers=same_origin)
    [claimed] = KEY.findall(claim.text)

    record = {"query": "mutation($e: ID!) { createRecord(endpoint: $e, data: {customer: \"Ada\", amount: 1}) { id data } }", "variables": {"e": a.orders}}
    for key in (secret, claimed):
        await call("POST", "/graphql", json=record, headers={"Authorization": f"Bearer {key}"})
    await call("POST", "/graphql", json=record, headers={"Authorization": f"Bearer {secret[:-1]}x"})  # bad checksum
    await call("GET", f"/graphql?query={{viewer{{kind}}}}&api_key={secret}")  # a key in the URL is refused
    keys_page = await call("GET", f"/w/{a.workspace}/keys", headers=page)
    key_id = re.findall(r'id="key-(key_\w+)"', keys_page.text)[0]
    rolled = await call("POST", f"/w/{a.workspace}/keys/{key_id}/roll", data={"csrf": csrf, "grace": "ONE_HOUR"}, headers=page)
    new_secrets = KEY.findall(rolled.text)
    await call("POST", "/graphql", json={"query": "{ nope }"}, headers={"Authorization": f"Bearer {claimed}"})
    await call("POST", "/logout", headers=page)

    secrets = {secret: revealed, claimed: claim, **{s: rolled for s in new_secrets}}
    claim_token = claim_url.rsplit("/", 1)[1]
    others = [PASSWORD, "wrong password, also secret", session, claim_token, world.a.keys["test"], world.a.keys["live"]]
    assert len(new_secrets) == 1 and all(others)

    # The test's own HTTP client (httpx) logs the URLs it calls: that is the
    # partner's program, not the server, so its lines are left out.
    server_records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    assert any(r.name.startswith("tortoise") for r in server_records)  # DEBUG really was on
    # Also as `threemin serve` writes them: JSON lines, tracebacks included.
    as_json = JsonFormatter()
    logs = "".join(r.getMessage() + repr(r.args) + (r.exc_text or "") + as_json.format(r) for r in server_records)
    events = repr(await AuditEvent.all().values())
    for value in [*secrets, *others]:
        assert value not in logs, "a secret was logged"
        assert value not in events, "a secret is in the audit log"
    for value, allowed in secrets.items():
        shown = [r for r in responses if value in r.text or value in str(r.headers)]
        assert shown == [allowed], f"key shown in {[str(r.url) for r in shown]}"
    # The claim link is shown to its issuer once, and its own pages post back to it.
    claim_pages = {str(r.url) for r in responses if claim_token in r.text}
    assert claim_pages == {str(claimed_link.url), str(claim.url)}, claim_pages
    for value in others:
        if value != claim_token:
            assert not any(value in r.text for r in responses), "a secret is in a response body"
    assert not await Session.exists()  # signed out: the session is gone
