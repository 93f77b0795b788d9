"""Collaboration keys: issuing, switching on and off, and verifying a presented key.

The plaintext of a key exists only in `issue_key`'s return value and in the
request that presents it; what is stored is its HMAC (keys.hash_key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from server import keys
from server.errors import KeyDisabled, KeyExpired, NotFound, Unauthenticated, ValidationFailed
from server.fields import parse_definitions
from server.keys import Environment
from server.models import ApiKey, Endpoint, Partner
from server.policy import KeyPrincipal, Permission, RowScope
from server.services import audit
from server.services.audit import Actor


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """What a key may do; checked against the endpoint before it is stored."""

    permissions: frozenset[Permission]
    readable_fields: frozenset[str] | None = None
    writable_fields: frozenset[str] | None = None
    row_scope: RowScope = RowScope.ALL
    expires_at: datetime | None = None

    @classmethod
    def parse(
        cls,
        permissions: list[str],
        *,
        readable_fields: list[str] | None = None,
        writable_fields: list[str] | None = None,
        row_scope: str = "all",
        expires_at: datetime | None = None,
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
            problems["row_scope"] = "must be all or own"
            scope = RowScope.ALL
        if expires_at is not None and expires_at.tzinfo is None:
            problems["expires_at"] = "must include a time zone"
        elif expires_at is not None and expires_at <= datetime.now(UTC):
            problems["expires_at"] = "must be in the future"
        if problems:
            raise ValidationFailed(fields=problems)
        return cls(
            frozenset(chosen),
            None if readable_fields is None else frozenset(readable_fields),
            None if writable_fields is None else frozenset(writable_fields),
            scope,
            expires_at,
        )

    def check_fields(self, endpoint: Endpoint) -> None:
        known = {d["name"] for d in endpoint.fields}
        problems = {}
        for label, chosen in (("readable_fields", self.readable_fields), ("writable_fields", self.writable_fields)):
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
        "display": keys.display(key.prefix, key.last4),
        "permissions": key.permissions,
        "readable_fields": key.readable_fields,
        "writable_fields": key.writable_fields,
        "row_scope": key.row_scope,
        "active": key.active,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
    }


async def issue_key(
    workspace_id: str,
    partner_id: str,
    endpoint_id: str,
    environment: Environment,
    grant: KeyGrant,
    secret: str,
    actor: Actor,
) -> tuple[ApiKey, str]:
    """A new key and its plaintext, which the caller shows once and forgets."""
    partner = await Partner.get_or_none(id=partner_id, workspace_id=workspace_id, archived_at=None)
    endpoint = await Endpoint.get_or_none(id=endpoint_id, workspace_id=workspace_id, archived_at=None)
    if partner is None:
        raise NotFound("No such partner.")
    if endpoint is None:
        raise NotFound("No such endpoint.")
    grant.check_fields(endpoint)
    plaintext = keys.generate(environment)
    async with in_transaction():
        key = await ApiKey.create(
            workspace_id=workspace_id,
            partner_id=partner.id,
            endpoint_id=endpoint.id,
            environment=environment.value,
            key_hash=keys.hash_key(plaintext, secret),
            prefix=environment.prefix,
            last4=plaintext[-4:],
            permissions=sorted(p.value for p in grant.permissions),
            readable_fields=None if grant.readable_fields is None else sorted(grant.readable_fields),
            writable_fields=None if grant.writable_fields is None else sorted(grant.writable_fields),
            row_scope=grant.row_scope.value,
            expires_at=grant.expires_at,
            created_by=actor.id,
        )
        await audit.log(workspace_id, actor, "key.issue", "key", key.id, after=describe(key))
    return key, plaintext


async def set_active(workspace_id: str | None, key_id: str, active: bool, actor: Actor) -> ApiKey:
    """Deactivate or reactivate; the next request sees it (no key cache to go stale)."""
    query = ApiKey.filter(id=key_id)
    if workspace_id is not None:
        query = query.filter(workspace_id=workspace_id)
    async with in_transaction():
        key = await query.select_for_update().first()
        if key is None:
            raise NotFound("No such key.")
        if key.active != active:
            before = describe(key)
            key.active = active
            await key.save(update_fields=["active"])
            action = "key.reactivate" if active else "key.deactivate"
            await audit.log(key.workspace_id, actor, action, "key", key.id, before=before, after=describe(key))
    return key


_PRINCIPAL_COLUMNS = (
    "id", "workspace_id", "partner_id", "partner__name", "endpoint_id", "endpoint__name",
    "endpoint__fields", "environment", "permissions", "readable_fields", "writable_fields",
    "row_scope", "active", "expires_at",
)


async def principal_for(presented: str, secret: str, now: datetime) -> KeyPrincipal:
    """Verify a presented key, cheapest check first; the first failure decides.

    Shape and checksum need no database, so typos and random strings cost no
    query. "No such key" and a malformed key get the same answer.
    """
    parsed = keys.parse(presented)
    if parsed is None:
        raise Unauthenticated()
    row = await ApiKey.filter(key_hash=keys.hash_key(parsed.plaintext, secret)).values(*_PRINCIPAL_COLUMNS)
    if not row:
        raise Unauthenticated()
    key = row[0]
    if not key["active"]:
        raise KeyDisabled()
    if key["expires_at"] is not None and key["expires_at"] <= now:
        raise KeyExpired()
    readable, writable = key["readable_fields"], key["writable_fields"]
    return KeyPrincipal(
        key_id=key["id"],
        workspace_id=key["workspace_id"],
        partner_id=key["partner_id"],
        partner_name=key["partner__name"],
        endpoint_id=key["endpoint_id"],
        endpoint_name=key["endpoint__name"],
        endpoint_fields=tuple(parse_definitions(key["endpoint__fields"])),
        environment=Environment(key["environment"]),
        permissions=frozenset(Permission(p) for p in key["permissions"]),
        readable_fields=None if readable is None else frozenset(readable),
        writable_fields=None if writable is None else frozenset(writable),
        row_scope=RowScope(key["row_scope"]),
    )
