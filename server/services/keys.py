"""Collaboration keys: issue, hand over, claim, switch, roll, delete (verifying one: verification.py).

The plaintext of a key exists only in the return value of the call that
mints it (issue with reveal, claim, roll) and in the requests that present
it; what is stored is its HMAC (keys.hash_key). Every change is written to
the database and read back on the next request: there is no key cache that
another worker could hold stale.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from tortoise.transactions import in_transaction

from server import keys, tokens
from server.errors import (
    NotFound,
    ValidationFailed,
)
from server.keys import Environment
from server.models import ApiKey, ClaimLink, Endpoint, Partner
from server.policy import (
    Permission,
    Principal,
    Role,
    RowScope,
    require_person,
    require_role,
)
from server.services import audit
from server.services.audit import Actor
from server.settings import Settings

CLAIM = "claim"
MAX_RATE_LIMIT = 100_000
MAX_LIFETIME = timedelta(days=36525)


class Handover(str, Enum):
    REVEAL = "reveal"  # shown once to whoever issued it
    CLAIM = "claim"  # minted when the partner opens a one-time link


class RollGrace(Enum):
    """How long the old secret keeps working after a roll: the choices offered, no others."""

    NONE = timedelta(0)
    ONE_HOUR = timedelta(hours=1)
    ONE_DAY = timedelta(hours=24)
    SEVEN_DAYS = timedelta(days=7)


class DeactivationReason(str, Enum):
    """Why a key was last turned off (ApiKey.deactivated_reason)."""

    MANUAL = "manual"  # a person or the command line
    LEAKED = "leaked"  # a leak report (services/leaks.py)
    IDLE = "idle"  # the idle-key policy (services/idle.py)


class KeyStatus(str, Enum):
    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    EXPIRED = "expired"
    UNCLAIMED = "unclaimed"  # waiting for its claim link


def status(key: ApiKey, now: datetime) -> KeyStatus:
    if key.key_hash is None:
        return KeyStatus.UNCLAIMED
    if not key.active:
        return KeyStatus.DEACTIVATED
    if key.expires_at is not None and key.expires_at <= now:
        return KeyStatus.EXPIRED
    return KeyStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class Issued:
    key: ApiKey
    secret: str | None = None  # with Handover.REVEAL: the only time it is shown
    claim_url: str | None = None  # with Handover.CLAIM


@dataclass(frozen=True, slots=True)
class ClaimView:
    """What the claim page shows before the partner confirms."""

    partner_name: str
    endpoint_name: str
    endpoint_id: str
    environment: Environment
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """What a key may do; checked against the endpoint before it is stored."""

    permissions: frozenset[Permission]
    readable_fields: frozenset[str] | None = None
    writable_fields: frozenset[str] | None = None
    row_scope: RowScope = RowScope.ALL
    expires_at: datetime | None = None
    rate_limit: int | None = None  # requests per minute; None: the default

    @classmethod
    def parse(
        cls,
        permissions: list[str],
        *,
        readable_fields: list[str] | None = None,
        writable_fields: list[str] | None = None,
        row_scope: str = "all",
        expires_at: datetime | None = None,
        rate_limit: int | None = None,
    ) -> KeyGrant:
        problems: dict[str, str] = {}
        chosen: set[Permission] = set()
        for value in permissions:
            try:
                chosen.add(Permission(value.strip().lower()))
            except ValueError:
                problems["permissions"] = f"{value!r} is not one of create, read, update, delete"
        if not chosen and "permissions" not in problems:
            problems["permissions"] = "give at least one of create, read, update, delete"
        try:
            scope = RowScope(row_scope.lower())
        except ValueError:
            problems["rowScope"] = "must be all or own"
            scope = RowScope.ALL
        if expires_at is not None and expires_at.tzinfo is None:
            problems["expiresAt"] = "must include a time zone"
        elif expires_at is not None and expires_at <= datetime.now(UTC):
            problems["expiresAt"] = "must be in the future"
        elif expires_at is not None and expires_at > datetime.now(UTC) + MAX_LIFETIME:
            # Also keeps it inside what datetimes can hold once turned into UTC.
            problems["expiresAt"] = "must be within 100 years"
        if rate_limit is not None and not 1 <= rate_limit <= MAX_RATE_LIMIT:
            problems["rateLimit"] = f"must be between 1 and {MAX_RATE_LIMIT} requests per minute"
        if problems:
            raise ValidationFailed(fields=problems)
        return cls(
            frozenset(chosen),
            None if readable_fields is None else frozenset(readable_fields),
            None if writable_fields is None else frozenset(writable_fields),
            scope,
            None if expires_at is None else expires_at.astimezone(UTC),
            rate_limit,
        )

    def check_fields(self, endpoint: Endpoint) -> None:
        known = {d["name"] for d in endpoint.fields}
        problems = {}
        for label, chosen in (("readableFields", self.readable_fields), ("writableFields", self.writable_fields)):
            unknown = sorted((chosen or set()) - known)
            if unknown:
                problems[label] = f"not fields of this endpoint: {', '.join(unknown)}"
        if problems:
            raise ValidationFailed(fields=problems)


def describe(key: ApiKey) -> dict[str, Any]:
    """A key's settings for the audit log: never the secret, never its hash."""
    return {
        "partner": key.partner_id,
        "endpoint": key.endpoint_id,
        "environment": key.environment,
        "display": keys.display(key.prefix, key.last4) if key.last4 else f"{key.prefix}… (not claimed yet)",
        "permissions": key.permissions,
        "readable_fields": key.readable_fields,
        "writable_fields": key.writable_fields,
        "row_scope": key.row_scope,
        "active": key.active,
        "deactivated_reason": key.deactivated_reason,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        "rate_limit": key.rate_limit,
    }


def _apply_grant(key: ApiKey, grant: KeyGrant) -> None:
    key.permissions = sorted(p.value for p in grant.permissions)
    key.readable_fields = None if grant.readable_fields is None else sorted(grant.readable_fields)
    key.writable_fields = None if grant.writable_fields is None else sorted(grant.writable_fields)
    key.row_scope = grant.row_scope.value
    key.expires_at = grant.expires_at
    key.rate_limit = grant.rate_limit


def _set_secret(key: ApiKey, plaintext: str, secret: str) -> None:
    key.key_hash = keys.hash_key(plaintext, secret)
    key.last4 = plaintext[-4:]


async def issue_key(
    principal: Principal,
    workspace_id: str,
    partner_id: str,
    endpoint_id: str,
    environment: Environment,
    grant: KeyGrant,
    handover: Handover,
    settings: Settings,
    actor: Actor,
) -> Issued:
    """A new key: its secret once (REVEAL), or a claim link and no secret at all (CLAIM)."""
    require_role(principal, workspace_id, Role.ADMIN)
    partner = await Partner.get_or_none(id=partner_id, workspace_id=workspace_id, archived_at=None)
    endpoint = await Endpoint.get_or_none(id=endpoint_id, workspace_id=workspace_id, archived_at=None)
    if partner is None:
        raise NotFound("No such partner.")
    if endpoint is None:
        raise NotFound("No such endpoint.")
    grant.check_fields(endpoint)
    key = ApiKey(
        workspace_id=workspace_id,
        partner_id=partner.id,
        endpoint_id=endpoint.id,
        environment=environment.value,
        prefix=environment.prefix,
        handover=handover.value,
        created_by=actor.id,
    )
    _apply_grant(key, grant)
    plaintext = claim_url = None
    if handover is Handover.REVEAL:
        plaintext = keys.generate(environment)
        _set_secret(key, plaintext, settings.secret_key)
    async with in_transaction():
        await key.save()
        await audit.log(workspace_id, actor, "key.issue", "key", key.id, after=describe(key) | {"handover": handover.value})
        if handover is Handover.CLAIM:
            claim_url = await _new_claim_link(key, settings, actor)
        else:
            await audit.log(workspace_id, actor, "key.reveal", "key", key.id)
    return Issued(key, plaintext, claim_url)


async def _new_claim_link(key: ApiKey, settings: Settings, actor: Actor) -> str:
    token = tokens.new_token()
    link = await ClaimLink.create(
        key_id=key.id,
        token_hash=tokens.hash_token(token, settings.secret_key, CLAIM),
        expires_at=datetime.now(UTC) + timedelta(hours=settings.claim_link_hours),
        created_by=actor.id,
    )
    await audit.log(key.workspace_id, actor, "key.claim_link", "key", key.id, after={"claim_link": link.id, "expires_at": link.expires_at.isoformat()})
    return f"{settings.base_url}/claim/{token}"


async def _open_claim(token: str, settings: Settings) -> ClaimLink:
    """The claim link if it can still be used; NotFound with the reason otherwise."""
    link = await ClaimLink.get_or_none(token_hash=tokens.hash_token(token, settings.secret_key, CLAIM)).select_related("key")
    if link is None:
        raise NotFound("This link is not valid. Ask the sender for a new one.")
    if link.claimed_at is not None:
        raise NotFound("This link has already been used: the key it held was shown once and cannot be shown again.")
    if link.expires_at <= datetime.now(UTC):
        raise NotFound("This link has expired. Ask the sender for a new one.")
    if not link.key.active:
        raise NotFound("The key behind this link has been deactivated. Ask the sender for a new one.")
    return link


async def inspect_claim(token: str, settings: Settings) -> ClaimView:
    link = await _open_claim(token, settings)
    partner = await Partner.get(id=link.key.partner_id)
    endpoint = await Endpoint.get(id=link.key.endpoint_id)
    return ClaimView(partner.name, endpoint.name, endpoint.id, Environment(link.key.environment), link.expires_at)


async def claim(token: str, settings: Settings, actor: Actor) -> tuple[ApiKey, str]:
    """Mint the key for the partner who opened the link; works once."""
    link = await _open_claim(token, settings)
    key = link.key
    plaintext = keys.generate(Environment(key.environment))
    async with in_transaction():
        # Conditional updates, so two simultaneous confirmations mint one key.
        if not await ClaimLink.filter(id=link.id, claimed_at=None).update(claimed_at=datetime.now(UTC)):
            raise NotFound("This link has already been used: the key it held was shown once and cannot be shown again.")
        minted = await ApiKey.filter(id=key.id, key_hash=None).update(key_hash=keys.hash_key(plaintext, settings.secret_key), last4=plaintext[-4:])
        if not minted:
            raise NotFound("This key has already been claimed.")
        await audit.log(key.workspace_id, actor, "key.claim", "key", key.id)
    return await ApiKey.get(id=key.id), plaintext


async def create_claim_link(principal: Principal, key_id: str, settings: Settings, actor: Actor) -> str:
    """A new link for a key nobody has claimed yet (the old links stop working)."""
    key = await get_key(principal, key_id, Role.ADMIN)
    if key.key_hash is not None:
        raise ValidationFailed("This key has been claimed; roll it to hand over a new secret.", fields={"id": "already claimed"})
    async with in_transaction():
        await ClaimLink.filter(key_id=key.id, claimed_at=None).update(expires_at=datetime.now(UTC))
        return await _new_claim_link(key, settings, actor)


async def get_key(principal: Principal, key_id: str, role: Role = Role.VIEWER) -> ApiKey:
    """The key if the principal holds `role` in its workspace; NOT_FOUND for strangers."""
    require_person(principal)
    key = await ApiKey.get_or_none(id=key_id)
    if key is None:
        raise NotFound("No such key.")
    require_role(principal, key.workspace_id, role, missing="No such key.")
    return key


async def _change(principal: Principal, key_id: str, action: str, actor: Actor, change: Any) -> ApiKey:
    """Load, check ADMIN, apply `change(key)`, save and audit, all in one transaction."""
    await get_key(principal, key_id, Role.ADMIN)
    async with in_transaction():
        key = await ApiKey.filter(id=key_id).select_for_update().first()
        if key is None:
            raise NotFound("No such key.")
        before = describe(key)
        change(key)
        await key.save()
        await audit.log(key.workspace_id, actor, action, "key", key.id, before=before, after=describe(key))
    return key


async def set_active(
    principal: Principal, key_id: str, active: bool, actor: Actor, reason: DeactivationReason = DeactivationReason.MANUAL
) -> ApiKey:
    """Deactivate (saying why and when) or reactivate; the very next request sees it, in every worker."""

    def change(key: ApiKey) -> None:
        # Deactivating a key that is already off keeps the first reason: it is the true one.
        if key.active and not active:
            key.deactivated_reason, key.deactivated_at = reason.value, datetime.now(UTC)
        elif active:
            key.deactivated_reason, key.deactivated_at = None, None
        key.active = active

    return await _change(principal, key_id, "key.reactivate" if active else "key.deactivate", actor, change)


async def set_permissions(principal: Principal, key_id: str, grant: KeyGrant, actor: Actor) -> ApiKey:
    key = await get_key(principal, key_id, Role.ADMIN)
    grant.check_fields(await Endpoint.get(id=key.endpoint_id))
    return await _change(principal, key_id, "key.permissions", actor, lambda k: _apply_grant(k, grant))


async def roll_key(principal: Principal, key_id: str, grace: RollGrace, settings: Settings, actor: Actor) -> Issued:
    """A new secret with the same settings; the old one works for `grace`, then stops.

    A second roll during a grace period ends the older secret at once: at
    most two secrets of a key work at any time.
    """
    current = await get_key(principal, key_id, Role.ADMIN)
    if current.key_hash is None:
        raise ValidationFailed("This key has not been claimed yet: send a new claim link instead.", fields={"id": "not claimed"})
    plaintext = keys.generate(Environment(current.environment))
    now = datetime.now(UTC)

    def change(key: ApiKey) -> None:
        if grace is RollGrace.NONE:
            key.previous_hash, key.previous_expires_at = None, None
        else:
            key.previous_hash, key.previous_expires_at = key.key_hash, now + grace.value
        _set_secret(key, plaintext, settings.secret_key)
        key.handover = Handover.REVEAL.value

    key = await _change(principal, key_id, "key.roll", actor, change)
    await audit.log(key.workspace_id, actor, "key.reveal", "key", key.id, after={"grace_seconds": int(grace.value.total_seconds())})
    return Issued(key, plaintext)


async def delete_key(principal: Principal, key_id: str, actor: Actor) -> str:
    """Permanent: the key row goes; records keep its id in the audit log only."""
    key = await get_key(principal, key_id, Role.ADMIN)
    async with in_transaction():
        await audit.log(key.workspace_id, actor, "key.delete", "key", key.id, before=describe(key))
        await key.delete()
    return key_id


async def list_keys(
    principal: Principal,
    workspace_id: str,
    *,
    partner_id: str | None = None,
    endpoint_id: str | None = None,
    environment: Environment | None = None,
    key_status: KeyStatus | None = None,
) -> list[ApiKey]:
    require_role(principal, workspace_id, Role.VIEWER)
    query = ApiKey.filter(workspace_id=workspace_id)
    if partner_id:
        query = query.filter(partner_id=partner_id)
    if endpoint_id:
        query = query.filter(endpoint_id=endpoint_id)
    if environment:
        query = query.filter(environment=environment.value)
    now = datetime.now(UTC)
    found = await query.order_by("-created_at")
    return [key for key in found if key_status is None or status(key, now) is key_status]
