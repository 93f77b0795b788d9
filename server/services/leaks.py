"""Leak response: what to do when someone reports seeing a key in public.

The caller (leak_report.py, for GitHub's secret-scanning partner program) has
already checked who sent the report; this module decides, token by token,
whether it is one of our keys, and if so turns the key off and records where
it leaked. No model of its own: a sighting is an audit event ("key.leaked")
on the key's workspace, and the deactivation goes through keys.set_active so
it is audit-logged exactly like one made by a person (reason "leaked"). The
key keeps the latest sighting (leaked_at, leak_url) for the checklist.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from server import keys
from server.errors import NotFound
from server.models import ApiKey
from server.policy import OPERATOR
from server.services import audit
from server.services import keys as key_service
from server.services.audit import Actor
from server.services.keys import DeactivationReason

GITHUB = Actor("github-secret-scanning")
# Reports are signed, but a URL is still the reporter's text: bound what one audit row holds.
MAX_TEXT = 2000
MAX_URL = ApiKey._meta.fields_map["leak_url"].max_length  # type: ignore[attr-defined]


class Verdict(str, Enum):
    """GitHub's feedback labels."""

    TRUE_POSITIVE = "true_positive"  # one of our keys (current or previous secret)
    FALSE_POSITIVE = "false_positive"  # a look-alike, or a key we do not (or no longer) store


@dataclass(frozen=True, slots=True)
class Sighting:
    """One reported match. `token` is a secret: it is hashed here and never stored or echoed."""

    token: str
    type: str
    url: str
    source: str

    @property
    def token_hash(self) -> str:
        # Plain SHA-256, as GitHub's feedback format asks: it already knows the token.
        return hashlib.sha256(self.token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Finding:
    sighting: Sighting
    verdict: Verdict


async def report(sightings: list[Sighting], secret: str, actor: Actor = GITHUB) -> list[Finding]:
    """A verdict per sighting, in order; every real key among them is deactivated.

    Idempotent: a key already off stays off, and the repeated sighting is
    logged again (where a key was seen is worth knowing each time).
    """
    return [Finding(sighting, await _handle(sighting, secret, actor)) for sighting in sightings]


async def _handle(sighting: Sighting, secret: str, actor: Actor) -> Verdict:
    # The checksum rejects look-alikes before any database work (and before
    # an HMAC that could never match anyway).
    parsed = keys.parse(sighting.token)
    if parsed is None:
        return Verdict.FALSE_POSITIVE
    presented = keys.hash_key(parsed.plaintext, secret)
    # One indexed statement, both secrets, like verification.principal_for.
    key = await ApiKey.filter(Q(key_hash=presented) | Q(previous_hash=presented)).only("id", "workspace_id", "active", "key_hash").first()
    if key is None:
        return Verdict.FALSE_POSITIVE
    # A rolled key's previous secret counts too, even once its grace period is
    # over: the new secret was handed to the same partner, who most likely put
    # it where the old one leaked from. Better a partner asking for a new key
    # than a live key sitting in a public repository.
    which = "current" if key.key_hash == presented else "previous"
    try:
        async with in_transaction():
            if key.active:
                await key_service.set_active(OPERATOR, key.id, False, actor, DeactivationReason.LEAKED)
            # The latest sighting: where to look first (every one stays in the audit log).
            await ApiKey.filter(id=key.id).update(leaked_at=datetime.now(UTC), leak_url=sighting.url[:MAX_URL])
            await audit.log(
                key.workspace_id,
                actor,
                "key.leaked",
                "key",
                key.id,
                after={
                    "url": sighting.url[:MAX_TEXT],
                    "source": sighting.source[:MAX_TEXT],
                    "type": sighting.type[:MAX_TEXT],
                    "secret": which,
                },
            )
    except NotFound:
        # Deleted between the lookup and now: no longer a key we hold.
        return Verdict.FALSE_POSITIVE
    return Verdict.TRUE_POSITIVE
