"""Blast radius: the records one key wrote in a time window, so a leaked key's writes can be reviewed.

Read-only, for any member of the key's workspace. A record remembers the key
that created it (not the keys that later updated it), so this lists what the
key created; it pages like the records list, newest first by keyset, and uses
that list's cursors and rows (services/records.py) without changing its SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime

from server.errors import ValidationFailed
from server.models import Record
from server.policy import Principal
from server.services import keys as key_service
from server.services.records import COLUMNS, Page, RecordRow, decode_cursor


async def records_written(
    principal: Principal,
    key_id: str,
    first: int,
    after: str | None,
    *,
    max_page: int,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page:
    """Records the key created in [since, until), newest first."""
    key = await key_service.get_key(principal, key_id)
    if not 0 <= first <= max_page:
        raise ValidationFailed(fields={"first": f"must be between 0 and {max_page}"})
    for name, when in (("since", since), ("until", until)):
        if when is not None and when.tzinfo is None:
            raise ValidationFailed(fields={name: "must include a time zone"})
    if since is not None and until is not None and since >= until:
        raise ValidationFailed(fields={"until": "must be after since"})
    # The index (key_id, seq) finds the key's records newest first, however many
    # other records the endpoint holds; endpoint and environment only restate the key's own.
    query = Record.filter(endpoint_id=key.endpoint_id, environment=key.environment, key_id=key.id)
    if since is not None:
        query = query.filter(created_at__gte=since.astimezone(UTC))
    if until is not None:
        query = query.filter(created_at__lt=until.astimezone(UTC))
    if after is not None:
        query = query.filter(seq__lt=decode_cursor(after))
    found = await query.order_by("-seq").limit(first + 1).values(*COLUMNS)
    return Page([RecordRow(**{name: row[name] for name in COLUMNS}) for row in found[:first]], len(found) > first)
