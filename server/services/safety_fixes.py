"""The checklist's fixes that the key services do not already offer as one call.

Deactivating many keys at once, and replacing a secret that was revealed on
screen by a claim link. Both are compositions of services/keys.py, so each
change is audit-logged exactly as if made one by one.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from server.errors import ValidationFailed
from server.models import ApiKey
from server.policy import Principal, Role
from server.services import audit
from server.services import keys as key_service
from server.services.audit import Actor
from server.services.keys import Handover, RollGrace
from server.settings import Settings

MAX_KEYS = 500


async def deactivate_keys(principal: Principal, key_ids: list[str], actor: Actor) -> list[ApiKey]:
    """Deactivate every listed key (ADMIN on each), or none.

    Every id is checked before anything changes, so one id that is not yours
    (answered NOT_FOUND, like one that does not exist) leaves all keys as they were.
    """
    ids = list(dict.fromkeys(key_ids))
    if not 1 <= len(ids) <= MAX_KEYS:
        raise ValidationFailed(fields={"ids": f"give 1 to {MAX_KEYS} keys"})
    for key_id in ids:
        await key_service.get_key(principal, key_id, Role.ADMIN)
    async with in_transaction():
        return [await key_service.set_active(principal, key_id, False, actor) for key_id in ids]


async def replace_with_claim_link(principal: Principal, key_id: str, grace: RollGrace, settings: Settings, actor: Actor) -> tuple[ApiKey, str]:
    """Hand a revealed key over again, by link (ADMIN): its secret ends, the partner claims a new one.

    createClaimLink alone refuses a claimed key, and rightly: a new link next
    to a working revealed secret would leave that secret in use, silently.
    Here the revealed secret keeps working only for `grace` (as after a
    roll, so the partner can switch without an outage), then stops; the
    partner mints the new secret through the link. Settings stay as they are.
    """
    key = await key_service.get_key(principal, key_id, Role.ADMIN)
    if key.key_hash is None:
        raise ValidationFailed("This key is not claimed yet: send a new claim link instead.", fields={"id": "not claimed"})
    now = datetime.now(UTC)
    async with in_transaction():
        locked = await ApiKey.filter(id=key.id).select_for_update().first()
        assert locked is not None
        before = key_service.describe(locked)
        # A second hand-over (or a roll) during a grace period ends the oldest secret at once, as rollKey does.
        keep = grace is not RollGrace.NONE
        locked.previous_hash = locked.key_hash if keep else None
        locked.previous_expires_at = now + grace.value if keep else None
        locked.key_hash, locked.last4, locked.handover = None, "", Handover.CLAIM.value
        await locked.save(update_fields=["previous_hash", "previous_expires_at", "key_hash", "last4", "handover"])
        await audit.log(
            locked.workspace_id, actor, "key.handover_by_link", "key", locked.id,
            before=before, after=key_service.describe(locked) | {"grace_seconds": int(grace.value.total_seconds())},
        )
        url = await key_service.create_claim_link(principal, locked.id, settings, actor)
    return await ApiKey.get(id=key.id), url
