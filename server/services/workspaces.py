"""Workspaces, endpoints and partners: creating them and finding them by id."""

from __future__ import annotations

from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server.errors import NotFound, ValidationFailed
from server.fields import parse_definitions
from server.models import Endpoint, Partner, Workspace
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


async def create_endpoint(workspace_id: str, name: str, field_list: list[dict[str, Any]], actor: Actor) -> Endpoint:
    name = _check_name(name)
    definitions = [d.as_json() for d in parse_definitions(field_list)]
    try:
        async with in_transaction():
            endpoint = await Endpoint.create(workspace_id=workspace_id, name=name, fields=definitions)
            await audit.log(workspace_id, actor, "endpoint.create", "endpoint", endpoint.id, after={"name": name, "fields": definitions})
    except IntegrityError:
        raise ValidationFailed(fields={"name": "an endpoint with this name exists"}) from None
    return endpoint


async def create_partner(workspace_id: str, name: str, actor: Actor) -> Partner:
    name = _check_name(name, 200)
    try:
        async with in_transaction():
            partner = await Partner.create(workspace_id=workspace_id, name=name)
            await audit.log(workspace_id, actor, "partner.create", "partner", partner.id, after={"name": name})
    except IntegrityError:
        raise ValidationFailed(fields={"name": "a partner with this name exists"}) from None
    return partner
