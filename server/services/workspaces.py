"""Workspaces, endpoints and partners: create, rename, edit, archive, list.

Endpoints are the owners' business (their fields shape every partner's
data); partners the admins'. Archiving keeps the rows (records and the audit
log still point at them) and makes every key of them stop working.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server.errors import NotFound, ValidationFailed
from server.fields import parse_definitions
from server.models import Endpoint, Partner, Workspace
from server.policy import Principal, Role, require_person, require_role
from server.services import audit
from server.services.audit import Actor

NAME_LIMIT = 100


def _check_name(name: str, limit: int = NAME_LIMIT) -> str:
    name = name.strip()
    if not name or len(name) > limit:
        raise ValidationFailed(fields={"name": f"must be 1 to {limit} characters"})
    return name


async def create_workspace(name: str, actor: Actor) -> Workspace:
    name = _check_name(name, 200)
    async with in_transaction():
        workspace = await Workspace.create(name=name)
        await audit.log(workspace.id, actor, "workspace.create", "workspace", workspace.id, after={"name": name})
    return workspace


async def get_workspace(workspace_id: str | None) -> Workspace:
    """The workspace with this id, or the only one there is when no id is given."""
    if workspace_id:
        workspace = await Workspace.get_or_none(id=workspace_id)
        if workspace is None:
            raise NotFound("No such workspace.")
        return workspace
    found = await Workspace.all().limit(2)
    if len(found) != 1:
        raise NotFound("Name the workspace: there is not exactly one." if found else "Create a workspace first.")
    return found[0]


async def create_endpoint(principal: Principal, workspace_id: str, name: str, field_list: list[dict[str, Any]], actor: Actor) -> Endpoint:
    require_role(principal, workspace_id, Role.OWNER)
    name = _check_name(name)
    definitions = [d.as_json() for d in parse_definitions(field_list)]
    try:
        async with in_transaction():
            endpoint = await Endpoint.create(workspace_id=workspace_id, name=name, fields=definitions)
            await audit.log(workspace_id, actor, "endpoint.create", "endpoint", endpoint.id, after={"name": name, "fields": definitions})
    except IntegrityError:
        raise ValidationFailed(fields={"name": "an endpoint with this name exists"}) from None
    return endpoint


async def create_partner(principal: Principal, workspace_id: str, name: str, actor: Actor) -> Partner:
    require_role(principal, workspace_id, Role.ADMIN)
    name = _check_name(name, 200)
    try:
        async with in_transaction():
            partner = await Partner.create(workspace_id=workspace_id, name=name)
            await audit.log(workspace_id, actor, "partner.create", "partner", partner.id, after={"name": name})
    except IntegrityError:
        raise ValidationFailed(fields={"name": "a partner with this name exists"}) from None
    return partner


async def get_endpoint(principal: Principal, endpoint_id: str, role: Role = Role.VIEWER) -> Endpoint:
    require_person(principal)
    endpoint = await Endpoint.get_or_none(id=endpoint_id)
    if endpoint is None:
        raise NotFound("No such endpoint.")
    require_role(principal, endpoint.workspace_id, role, missing="No such endpoint.")
    return endpoint


async def get_partner(principal: Principal, partner_id: str, role: Role = Role.VIEWER) -> Partner:
    require_person(principal)
    partner = await Partner.get_or_none(id=partner_id)
    if partner is None:
        raise NotFound("No such partner.")
    require_role(principal, partner.workspace_id, role, missing="No such partner.")
    return partner


async def update_endpoint(
    principal: Principal, endpoint_id: str, actor: Actor, *, name: str | None = None, field_list: list[dict[str, Any]] | None = None
) -> Endpoint:
    """Rename and / or replace the field list. Stored records are not rewritten:
    the new fields apply to what is sent from now on."""
    endpoint = await get_endpoint(principal, endpoint_id, Role.OWNER)
    before = {"name": endpoint.name, "fields": endpoint.fields}
    if name is not None:
        endpoint.name = _check_name(name)
    if field_list is not None:
        endpoint.fields = [d.as_json() for d in parse_definitions(field_list)]
    try:
        async with in_transaction():
            await endpoint.save(update_fields=["name", "fields"])
            await audit.log(endpoint.workspace_id, actor, "endpoint.update", "endpoint", endpoint.id, before=before, after={"name": endpoint.name, "fields": endpoint.fields})
    except IntegrityError:
        raise ValidationFailed(fields={"name": "an endpoint with this name exists"}) from None
    return endpoint


async def _archive(row: Endpoint | Partner, kind: str, actor: Actor) -> None:
    """Archive once (again is a no-op), with its audit event in the same transaction."""
    if row.archived_at is None:
        row.archived_at = datetime.now(UTC)
        async with in_transaction():
            await row.save(update_fields=["archived_at"])
            await audit.log(row.workspace_id, actor, f"{kind}.archive", kind, row.id)


async def archive_endpoint(principal: Principal, endpoint_id: str, actor: Actor) -> Endpoint:
    endpoint = await get_endpoint(principal, endpoint_id, Role.OWNER)
    await _archive(endpoint, "endpoint", actor)
    return endpoint


async def update_partner(principal: Principal, partner_id: str, name: str, actor: Actor) -> Partner:
    partner = await get_partner(principal, partner_id, Role.ADMIN)
    before = {"name": partner.name}
    partner.name = _check_name(name, 200)
    try:
        async with in_transaction():
            await partner.save(update_fields=["name"])
            await audit.log(partner.workspace_id, actor, "partner.update", "partner", partner.id, before=before, after={"name": partner.name})
    except IntegrityError:
        raise ValidationFailed(fields={"name": "a partner with this name exists"}) from None
    return partner


async def archive_partner(principal: Principal, partner_id: str, actor: Actor) -> Partner:
    partner = await get_partner(principal, partner_id, Role.ADMIN)
    await _archive(partner, "partner", actor)
    return partner


async def list_endpoints(principal: Principal, workspace_id: str, *, include_archived: bool = False) -> list[Endpoint]:
    require_role(principal, workspace_id, Role.VIEWER)
    query = Endpoint.filter(workspace_id=workspace_id)
    return await (query if include_archived else query.filter(archived_at=None)).order_by("name")


async def list_partners(principal: Principal, workspace_id: str, *, include_archived: bool = False) -> list[Partner]:
    require_role(principal, workspace_id, Role.VIEWER)
    query = Partner.filter(workspace_id=workspace_id)
    return await (query if include_archived else query.filter(archived_at=None)).order_by("name")


# Safety settings: (lowest, highest) of each. Permission windows cannot reach
# past the 400 days of usage facts that are kept (services/usage.py).
SAFETY_LIMITS = {
    "shared_key_clients": (1, 10_000),
    "unused_key_days": (1, 3650),
    "unused_permission_days": (1, 400),
    "idle_key_days": (1, 3650),
}
SAFETY_NAMES = {
    "shared_key_clients": "sharedKeyClients",
    "unused_key_days": "unusedKeyDays",
    "unused_permission_days": "unusedPermissionDays",
    "idle_key_days": "idleKeyDays",
}


def safety_settings(workspace: Workspace) -> dict[str, int | None]:
    return {name: getattr(workspace, name) for name in SAFETY_LIMITS}


async def set_safety_settings(principal: Principal, workspace_id: str, changes: dict[str, int | None], actor: Actor) -> Workspace:
    """Change the checklist's thresholds and the idle-key policy (ADMIN); names left out stay.

    `idle_key_days` None turns the policy off; every other setting needs a number.
    """
    require_role(principal, workspace_id, Role.ADMIN)
    problems = {}
    for name, value in changes.items():
        low, high = SAFETY_LIMITS[name]
        if value is None and name == "idle_key_days":
            continue
        if value is None or not low <= value <= high:
            problems[SAFETY_NAMES[name]] = f"must be between {low} and {high}" + (" (or null: off)" if name == "idle_key_days" else "")
    if problems:
        raise ValidationFailed(fields=problems)
    async with in_transaction():
        workspace = await Workspace.filter(id=workspace_id).select_for_update().first()
        if workspace is None:
            raise NotFound("Not found.")
        before = safety_settings(workspace)
        for name, value in changes.items():
            setattr(workspace, name, value)
        if safety_settings(workspace) != before:
            await workspace.save(update_fields=list(changes))
            await audit.log(workspace_id, actor, "workspace.safety_settings", "workspace", workspace_id, before=before, after=safety_settings(workspace))
    return workspace
