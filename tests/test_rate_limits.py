"""Rate limits: per key (default and override), per partner across its keys, and sign-in throttling."""

from __future__ import annotations

import httpx
import pytest

from server.app import create_app
from server.errors import ValidationFailed
from server.models import AuditEvent, Record
from server.ratelimit import RateLimiter
from server.services.keys import KeyGrant
from tests.conftest import CREATE, ORDER, error_codes, issue

VIEWER = "{ viewer { kind } }"


def test_a_bucket_allows_a_burst_then_refills_at_its_rate():
    limiter = RateLimiter()
    assert [limiter.take("k", 3, 100.0) for _ in range(3)] == [None, None, None]
    wait = limiter.take("k", 3, 100.0)
    assert wait == pytest.approx(20.0)  # 3 a minute: one every 20 s
    assert limiter.take("k", 3, 119.0) is not None and limiter.take("k", 3, 120.5) is None
    assert limiter.take("other", 3, 100.0) is None  # buckets are separate
    assert all(limiter.take("free", 0, 100.0) is None for _ in range(100))  # 0: no limit


async def client_for(settings, **limits) -> httpx.AsyncClient:
    app = create_app(settings.replace(**limits), manage_database=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def ask(client: httpx.AsyncClient, key: str, query: str = VIEWER, variables: dict | None = None) -> httpx.Response:
    return await client.post("/graphql", json={"query": query, "variables": variables or {}}, headers={"Authorization": f"Bearer {key}"})


async def test_a_key_past_its_limit_gets_429_with_retry_after_and_writes_nothing(settings, world):
    a = world.a
    async with await client_for(settings, key_rate_limit=3, partner_rate_limit=0) as client:
        for _ in range(3):
            assert (await ask(client, a.keys["test"], CREATE, {"endpoint": a.orders, "data": ORDER})).status_code == 200
        refused = await ask(client, a.keys["test"], CREATE, {"endpoint": a.orders, "data": ORDER})
        assert refused.status_code == 429 and error_codes(refused.json()) == ["RATE_LIMITED"]
        assert int(refused.headers["retry-after"]) >= 1 and "data" not in refused.json()
        assert await Record.all().count() == 3
        assert (await ask(client, a.keys["live"])).status_code == 200  # another key has its own budget


async def test_a_key_of_its_own_limit_overrides_the_default(settings, world):
    slow = await issue(world.a, rate_limit=1)
    async with await client_for(settings, key_rate_limit=100, partner_rate_limit=0) as client:
        assert (await ask(client, slow)).status_code == 200
        assert (await ask(client, slow)).status_code == 429
        assert (await ask(client, world.a.keys["test"])).status_code == 200


async def test_a_partner_is_limited_across_all_its_keys(settings, world):
    async with await client_for(settings, key_rate_limit=100, partner_rate_limit=4) as client:
        answers = [(await ask(client, world.a.keys[env])).status_code for env in ("test", "live", "test", "live", "test")]
        assert answers == [200, 200, 200, 200, 429]
        assert (await ask(client, world.b.keys["test"])).status_code == 200  # another partner, another budget


async def test_a_key_rate_limit_must_be_sensible():
    with pytest.raises(ValidationFailed) as caught:
        KeyGrant.parse(["read"], rate_limit=0)
    assert "rateLimit" in caught.value.extensions["fields"]


async def test_sign_in_is_throttled_per_account_even_with_the_right_password(settings, world):
    from server.models import Membership
    from server.services import accounts

    user = await accounts.create_user("ada@example.com", "Ada", "the right password 1", settings)
    await Membership.create(workspace_id=world.a.workspace, user_id=user.id, role="owner")
    async with await client_for(settings, sign_in_limit_per_account=3) as client:
        same_origin = {"Sec-Fetch-Site": "same-origin"}
        for _ in range(3):
            wrong = await client.post("/login", data={"email": "ada@example.com", "password": "guess"}, headers=same_origin)
            assert wrong.status_code == 401
        throttled = await client.post("/login", data={"email": "ada@example.com", "password": "the right password 1"}, headers=same_origin)
        assert throttled.status_code == 429 and "Too many sign-in attempts" in throttled.text
        assert int(throttled.headers["retry-after"]) >= 60 and "threemin_session" not in throttled.headers.get("set-cookie", "")
        other = await client.post("/login", data={"email": "bob@example.com", "password": "guess"}, headers=same_origin)
        assert other.status_code == 401  # another account is not held up
    assert await AuditEvent.exists(action="user.sign_in_throttled")
