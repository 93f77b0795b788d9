"""People: users, passwords, sign-in and server-side sessions.

The session cookie holds a random token; the table holds only its HMAC, so a
copy of the database signs nobody in. Sessions end on sign-out, on a
password change (the others), on removal from a workspace, after
`session_idle_minutes` without use, and `session_max_hours` after sign-in.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import passwords, tokens
from server.errors import RateLimited, Unauthenticated, ValidationFailed
from server.fields import EMAIL
from server.models import Membership, Session, User
from server.policy import Role, SessionPrincipal
from server.ratelimit import Budget, Limiter, retry_after
from server.services import audit
from server.services.audit import Actor
from server.settings import Settings

SESSION = "session"
# Writing last_seen_at on every request would add a write per page view;
# once a minute is precise enough for an idle timeout counted in hours.
TOUCH_EVERY = timedelta(minutes=1)


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 254 or not EMAIL.fullmatch(email):
        raise ValidationFailed(fields={"email": "must be an email address"})
    return email


async def create_user(email: str, name: str, password: str, settings: Settings) -> User:
    problems = {}
    try:
        email = normalise_email(email)
    except ValidationFailed as error:
        problems.update(error.extensions["fields"])  # reported with the others, all at once
    if not name.strip() or len(name) > 200:
        problems["name"] = "must be 1 to 200 characters"
    if why := passwords.password_problem(password):
        problems["password"] = why
    if problems:
        raise ValidationFailed(fields=problems)
    password_hash = await passwords.hash_password(password, fast=settings.fast_password_hashing)
    try:
        return await User.create(email=email, name=name.strip(), password_hash=password_hash)
    except IntegrityError:
        raise ValidationFailed(fields={"email": "a user with this email exists"}) from None


async def _log_for_user(user_id: str | None, actor: Actor, action: str) -> None:
    """An event about a person, in every workspace they belong to (or none)."""
    workspaces = await Membership.filter(user_id=user_id).values_list("workspace_id", flat=True) if user_id else []
    for workspace_id in workspaces or [None]:
        await audit.log(workspace_id, actor, action, "user", user_id or "-")


SIGN_IN_PERIOD = 15 * 60  # seconds


async def sign_in(email: str, password: str, settings: Settings, actor: Actor, limiter: Limiter | None = None) -> tuple[User, str]:
    """The user and a new session token, or Unauthenticated with one message for every failure.

    With a limiter, attempts are throttled per account and per source address
    before any password work: guessing costs the guesser time, not the server.
    """
    refused = Unauthenticated("Wrong email or password.")
    try:
        email = normalise_email(email)
    except ValidationFailed:
        email = ""  # not an address: no user can match, and it is logged like an unknown one
    if limiter is not None:
        per_account = Budget(f"sign-in:{email}", settings.sign_in_limit_per_account, SIGN_IN_PERIOD)
        per_address = Budget(f"sign-in-from:{actor.ip}", settings.sign_in_limit_per_address, SIGN_IN_PERIOD)
        throttled = await limiter.spend((per_account, per_address))
        if throttled is not None:
            minutes = max(1, round(throttled[1] / 60))
            await _log_for_user(None, Actor(f"email:{email[:40] or '(malformed)'}", actor.ip, actor.user_agent), "user.sign_in_throttled")
            raise RateLimited(f"Too many sign-in attempts. Try again in {minutes} minute{'s' if minutes > 1 else ''}.", retryAfter=retry_after(throttled[1]))
    user = await User.get_or_none(email=email) if email else None
    if user is None:
        await passwords.verify_nothing(password, fast=settings.fast_password_hashing)
        await _log_for_user(None, Actor(f"email:{email[:40] or '(malformed)'}", actor.ip, actor.user_agent), "user.sign_in_failed")
        raise refused
    if not await passwords.verify_password(user.password_hash, password, fast=settings.fast_password_hashing):
        await _log_for_user(user.id, Actor(user.id, actor.ip, actor.user_agent), "user.sign_in_failed")
        raise refused
    token = await start_session(user, settings, actor)
    await _log_for_user(user.id, Actor(user.id, actor.ip, actor.user_agent), "user.sign_in")
    return user, token


async def start_session(user: User, settings: Settings, actor: Actor) -> str:
    token = tokens.new_token()
    now = datetime.now(timezone.utc)
    await Session.create(
        token_hash=tokens.hash_token(token, settings.secret_key, SESSION),
        user_id=user.id,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_max_hours),
        ip=actor.ip,
        user_agent=(actor.user_agent or "")[:300] or None,
    )
    return token


async def session_principal(token: str, settings: Settings, now: datetime) -> SessionPrincipal:
    session = await Session.get_or_none(token_hash=tokens.hash_token(token, settings.secret_key, SESSION)).select_related("user")
    if session is None:
        raise Unauthenticated("Your session has ended: sign in again.")
    idle_limit = session.last_seen_at + timedelta(minutes=settings.session_idle_minutes)
    if now >= session.expires_at or now >= idle_limit:
        await session.delete()
        raise Unauthenticated("Your session has ended: sign in again.")
    if now - session.last_seen_at >= TOUCH_EVERY:
        await Session.filter(id=session.id).update(last_seen_at=now)
    memberships = await Membership.filter(user_id=session.user_id).values_list("workspace_id", "role")
    return SessionPrincipal(
        user_id=session.user_id,
        email=session.user.email,
        session_id=session.id,
        roles={workspace_id: Role(role) for workspace_id, role in memberships},
    )


async def end_session(session_id: int) -> None:
    await Session.filter(id=session_id).delete()


async def end_sessions(user_id: str, *, keep: int | None = None) -> int:
    query = Session.filter(user_id=user_id)
    if keep is not None:
        query = query.exclude(id=keep)
    return await query.delete()


async def change_password(principal: SessionPrincipal, current: str, new: str, settings: Settings, actor: Actor) -> None:
    """Ends every other session of the user: whoever else had it is signed out."""
    user = await User.get(id=principal.user_id)
    if not await passwords.verify_password(user.password_hash, current, fast=settings.fast_password_hashing):
        raise ValidationFailed(fields={"currentPassword": "is not your current password"})
    if why := passwords.password_problem(new):
        raise ValidationFailed(fields={"newPassword": why})
    user.password_hash = await passwords.hash_password(new, fast=settings.fast_password_hashing)
    async with in_transaction():
        await user.save(update_fields=["password_hash"])
        await end_sessions(user.id, keep=principal.session_id)
    await _log_for_user(user.id, actor, "user.password_change")
