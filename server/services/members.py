"""Members of a workspace: one-time invitations, the first-run setup link, roles, removal.

A setup link is an invitation with no workspace: accepting it creates the
first user, their workspace and makes them its owner. Links are random
tokens stored as an HMAC and work once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tortoise.transactions import in_transaction

from server import passwords, tokens
from server.errors import NotFound, ValidationFailed
from server.models import Invitation, Membership, User, Workspace
from server.policy import Principal, Role, require_role
from server.services import accounts, audit
from server.services.audit import Actor
from server.settings import Settings

INVITATION = "invitation"


@dataclass(frozen=True, slots=True)
class InvitationView:
    """What an invitation page may show before it is accepted."""

    id: str
    workspace_name: str | None  # None: the first-run setup
    email: str | None
    role: Role


def invitation_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url}/invite/{token}"


async def setup_link(settings: Settings) -> str | None:
    """A new one-time setup link while nobody can sign in yet; older ones stop working."""
    if await User.exists():
        return None
    token = tokens.new_token()
    async with in_transaction():
        await Invitation.filter(workspace_id=None, accepted_at=None).delete()
        await Invitation.create(
            workspace_id=None,
            role=Role.OWNER.value,
            token_hash=tokens.hash_token(token, settings.secret_key, INVITATION),
            expires_at=datetime.now(timezone.utc) + timedelta(hours=settings.invitation_hours),
            created_by="setup",
        )
    return invitation_url(settings, token)


async def invite(principal: Principal, workspace_id: str, email: str, role: Role, settings: Settings, actor: Actor) -> tuple[str, Invitation]:
    """A one-time URL for one person to join, and the invitation; only owners invite."""
    require_role(principal, workspace_id, Role.OWNER)
    email = accounts.normalise_email(email)
    token = tokens.new_token()
    async with in_transaction():
        invitation = await Invitation.create(
            workspace_id=workspace_id,
            email=email,
            role=role.value,
            token_hash=tokens.hash_token(token, settings.secret_key, INVITATION),
            expires_at=datetime.now(timezone.utc) + timedelta(hours=settings.invitation_hours),
            created_by=actor.id,
        )
        await audit.log(workspace_id, actor, "member.invite", "invitation", invitation.id, after={"email": email, "role": role.value})
    return invitation_url(settings, token), invitation


async def _open_invitation(token: str, settings: Settings) -> Invitation:
    invitation = await Invitation.get_or_none(token_hash=tokens.hash_token(token, settings.secret_key, INVITATION))
    now = datetime.now(timezone.utc)
    if invitation is None or invitation.accepted_at is not None or invitation.expires_at <= now:
        raise NotFound("This link has been used or has expired. Ask for a new one.")
    # A setup link is only for the very first person: once anyone exists
    # (say through `threemin createuser`), an old one must not mint an owner.
    if invitation.workspace_id is None and await User.exists():
        raise NotFound("This link has been used or has expired. Ask for a new one.")
    return invitation


async def inspect_invitation(token: str, settings: Settings) -> InvitationView:
    invitation = await _open_invitation(token, settings)
    workspace = await Workspace.get_or_none(id=invitation.workspace_id) if invitation.workspace_id else None
    return InvitationView(invitation.id, workspace.name if workspace else None, invitation.email, Role(invitation.role))


async def accept(
    token: str,
    *,
    name: str,
    password: str,
    settings: Settings,
    actor: Actor,
    email: str | None = None,
    workspace_name: str | None = None,
) -> tuple[User, str]:
    """Create the invited user (or the first owner and their workspace); returns a session token."""
    invitation = await _open_invitation(token, settings)
    email = accounts.normalise_email(invitation.email or email or "")
    if invitation.workspace_id is None and not (workspace_name or "").strip():
        raise ValidationFailed(fields={"workspaceName": "name your workspace"})
    # Password work happens before the transaction: argon2 takes a while, and
    # an open SQLite transaction would hold up every other request meanwhile.
    user = await User.get_or_none(email=email)
    if user is not None:
        # Joining with an existing account needs its password: a link alone
        # must never sign anyone in as somebody who already exists.
        if not await passwords.verify_password(user.password_hash, password, fast=settings.fast_password_hashing):
            raise ValidationFailed(fields={"password": "this email has an account: enter its password"})
    else:
        user = await accounts.create_user(email, name, password, settings)
    async with in_transaction():
        # Claim the link with a condition, so two tabs cannot both use it.
        taken = await Invitation.filter(id=invitation.id, accepted_at=None).update(accepted_at=datetime.now(timezone.utc))
        if not taken:
            raise NotFound("This link has been used or has expired. Ask for a new one.")
        workspace_id = invitation.workspace_id
        joined = Actor(user.id, actor.ip, actor.user_agent)
        if workspace_id is None:
            workspace = await Workspace.create(name=(workspace_name or "").strip()[:200])
            workspace_id = workspace.id
            await audit.log(workspace_id, joined, "workspace.create", "workspace", workspace_id, after={"name": workspace.name})
        if not await Membership.exists(workspace_id=workspace_id, user_id=user.id):
            await Membership.create(workspace_id=workspace_id, user_id=user.id, role=invitation.role)
        await audit.log(workspace_id, joined, "member.join", "user", user.id, after={"role": invitation.role})
    session_token = await accounts.start_session(user, settings, actor)
    return user, session_token


async def _owners(workspace_id: str) -> int:
    return await Membership.filter(workspace_id=workspace_id, role=Role.OWNER.value).count()


async def change_role(principal: Principal, workspace_id: str, user_id: str, role: Role, actor: Actor) -> Membership:
    require_role(principal, workspace_id, Role.OWNER)
    async with in_transaction():
        membership = await Membership.get_or_none(workspace_id=workspace_id, user_id=user_id)
        if membership is None:
            raise NotFound("No such member.")
        if membership.role == Role.OWNER.value and role is not Role.OWNER and await _owners(workspace_id) == 1:
            raise ValidationFailed(fields={"role": "a workspace keeps at least one owner"})
        before = {"role": membership.role}
        membership.role = role.value
        await membership.save(update_fields=["role"])
        await audit.log(workspace_id, actor, "member.role_change", "user", user_id, before=before, after={"role": role.value})
    return membership


async def remove(principal: Principal, workspace_id: str, user_id: str, actor: Actor) -> None:
    """Removes the membership and ends the person's sessions at once."""
    require_role(principal, workspace_id, Role.OWNER)
    async with in_transaction():
        membership = await Membership.get_or_none(workspace_id=workspace_id, user_id=user_id)
        if membership is None:
            raise NotFound("No such member.")
        if membership.role == Role.OWNER.value and await _owners(workspace_id) == 1:
            raise ValidationFailed(fields={"user": "a workspace keeps at least one owner"})
        await membership.delete()
        await accounts.end_sessions(user_id)
        await audit.log(workspace_id, actor, "member.remove", "user", user_id, before={"role": membership.role})
