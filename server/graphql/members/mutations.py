"""Members (OWNER): invite by one-time link, change role, remove; and one's own password."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from server.errors import Forbidden
from server.graphql.enums import Role
from server.graphql.workspaces.types import Member, User
from server.models import Membership
from server.policy import SessionPrincipal
from server.services import accounts, members


@strawberry.type(description="A one-time link for one person to join. Send it to them; it is shown only now.")
class Invitation:
    url: str
    email: str
    role: Role
    expires_at: datetime


@strawberry.type
class MemberMutation:
    @strawberry.mutation(description="Invite someone by a one-time link (OWNER).")
    async def invite_member(self, info: Info, workspace: strawberry.ID, email: str, role: Role) -> Invitation:
        ctx = info.context
        url, invitation = await members.invite(ctx.principal, workspace, email, role, ctx.settings, ctx.actor)
        return Invitation(url=url, email=invitation.email, role=role, expires_at=invitation.expires_at)

    @strawberry.mutation(description="Change a member's role (OWNER). A workspace keeps at least one owner.")
    async def change_member_role(self, info: Info, workspace: strawberry.ID, user: strawberry.ID, role: Role) -> Member:
        membership = await members.change_role(info.context.principal, workspace, user, role, info.context.actor)
        member = await Membership.get(id=membership.id).select_related("user")
        return Member(user=User.from_model(member.user), role=role, joined_at=member.created_at)

    @strawberry.mutation(description="Remove a member (OWNER); their sessions end at once.")
    async def remove_member(self, info: Info, workspace: strawberry.ID, user: strawberry.ID) -> strawberry.ID:
        await members.remove(info.context.principal, workspace, user, info.context.actor)
        return user

    @strawberry.mutation(description="Change your own password; your other sessions end.")
    async def change_password(self, info: Info, current_password: str, new_password: str) -> bool:
        principal = info.context.principal
        if not isinstance(principal, SessionPrincipal):
            raise Forbidden("Only people signed in to threemin have a password.")
        await accounts.change_password(principal, current_password, new_password, info.context.settings, info.context.actor)
        return True
