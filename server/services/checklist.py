"""The safety checklist: the principles' five questions answered from a workspace's own data.

`build` reads everything it needs in a fixed number of queries (one per kind
of fact, never one per key) and judges in Python, so the page costs the same
with ten keys or ten thousand. Fixes are not here: they go through the key
services (keys.py, and advisor.py for permissions), which audit-log them.

What never counts: keys of archived partners or endpoints (they cannot be used
anyway) and deleted keys (gone). Inactive and expired keys fire no item but
"leaked" and the informational "deactivated by the idle-key policy".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import Enum

from tortoise.functions import Count, Sum

from server.errors import NotFound
from server.fields import parse_definitions
from server.keys import Environment
from server.models import ApiKey, ClaimLink, ClientDay, UsageDay, UsageShape, Workspace
from server.policy import Permission, Principal, Role, require_role
from server.services.keys import Handover, KeyStatus, status

# A key issued this long ago and never used is "unused" (the issue's rule), whatever N is.
NEVER_USED_GRACE = timedelta(days=7)
# Shared keys: the busiest day in this many days is what counts.
SHARED_WINDOW_DAYS = 30
WRITES = (Permission.CREATE.value, Permission.UPDATE.value)


class ItemKind(str, Enum):
    SHARED_KEYS = "shared_keys"
    TEST_BEFORE_LIVE = "test_before_live"
    PLAIN_TEXT_HANDOVER = "plain_text_handover"
    UNUSED_KEYS = "unused_keys"
    EXCESS_PERMISSIONS = "excess_permissions"
    LEAKED_KEYS = "leaked_keys"
    IDLE_DEACTIVATED = "idle_deactivated"

    @property
    def question(self) -> str:
        return QUESTIONS[self]


QUESTIONS = {
    ItemKind.SHARED_KEYS: "Separate keys per partner?",
    ItemKind.TEST_BEFORE_LIVE: "Test and live separate?",
    ItemKind.PLAIN_TEXT_HANDOVER: "Keys shared in plain text?",
    ItemKind.UNUSED_KEYS: "Unused keys still active?",
    ItemKind.EXCESS_PERMISSIONS: "More permissions than needed?",
    ItemKind.LEAKED_KEYS: "Keys seen in public?",
    ItemKind.IDLE_DEACTIVATED: "Keys the idle-key policy switched off",
}


class Fix(str, Enum):
    """What a finding offers; each maps to one mutation (see the GraphQL descriptions)."""

    DEACTIVATE = "deactivate"  # deactivateKey / deactivateKeys
    REDUCE_PERMISSIONS = "reduce_permissions"  # reduceKeyPermissions
    REPLACE_WITH_CLAIM_LINK = "replace_with_claim_link"  # replaceWithClaimLink: a revealed secret
    SEND_CLAIM_LINK = "send_claim_link"  # createClaimLink: a key never claimed
    ISSUE_TEST_KEY = "issue_test_key"  # issueKey with environment TEST
    REVIEW_BLAST_RADIUS = "review_blast_radius"  # blastRadius
    REACTIVATE = "reactivate"  # reactivateKey, if the idle key is still needed


@dataclass(frozen=True, slots=True)
class Finding:
    key: ApiKey
    evidence: tuple[str, ...]
    fixes: tuple[Fix, ...]
    # Counts in the badge. Informational findings (a leaked key already off,
    # a key the idle policy switched off) are listed but need no fix.
    open: bool = True
    day: date | None = None  # shared keys: the busiest day
    clients: int | None = None  # shared keys: distinct clients that day
    last_used_at: datetime | None = None
    idle_days: int | None = None  # unused keys: days since last use, or since issue
    claim_link_expired_at: datetime | None = None
    unused_operations: tuple[Permission, ...] | None = None
    unused_writable_fields: tuple[str, ...] | None = None
    leaked_at: datetime | None = None
    leak_url: str | None = None
    deactivated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Item:
    kind: ItemKind
    findings: list[Finding] = field(default_factory=list)

    @property
    def open_count(self) -> int:
        return sum(1 for f in self.findings if f.open)


@dataclass(frozen=True, slots=True)
class Checklist:
    workspace: Workspace
    items: list[Item]
    generated_at: datetime

    @property
    def open_count(self) -> int:
        return sum(item.open_count for item in self.items)


def _day(when: datetime | date) -> str:
    return (when.astimezone(UTC).date() if isinstance(when, datetime) else when).isoformat()


def _window_start(now: datetime, days: int) -> date:
    """The first UTC day of a window of `days` days that ends today (today included)."""
    return now.astimezone(UTC).date() - timedelta(days=days - 1)


def _usable(key: ApiKey, now: datetime) -> bool:
    return status(key, now) is KeyStatus.ACTIVE


async def build(principal: Principal, workspace_id: str, now: datetime | None = None) -> Checklist:
    """Every item for a workspace; any member may read it."""
    require_role(principal, workspace_id, Role.VIEWER)
    workspace = await Workspace.get_or_none(id=workspace_id)
    if workspace is None:
        raise NotFound("Not found.")
    now = now or datetime.now(UTC)
    keys = await (
        ApiKey.filter(workspace_id=workspace_id, partner__archived_at__isnull=True, endpoint__archived_at__isnull=True)
        .select_related("partner", "endpoint")
        .order_by("-created_at")
    )
    facts = await _Facts.load(workspace, now)
    items = [
        Item(ItemKind.LEAKED_KEYS, _leaked(keys, now)),
        Item(ItemKind.SHARED_KEYS, _shared(keys, facts, workspace, now)),
        Item(ItemKind.TEST_BEFORE_LIVE, _test_before_live(keys, now)),
        Item(ItemKind.PLAIN_TEXT_HANDOVER, _plain_text(keys, facts, now)),
        Item(ItemKind.UNUSED_KEYS, _unused(keys, workspace, now)),
        Item(ItemKind.EXCESS_PERMISSIONS, _excess(keys, facts, workspace, now)),
        Item(ItemKind.IDLE_DEACTIVATED, _idle_deactivated(keys, workspace)),
    ]
    return Checklist(workspace, items, now)


@dataclass
class _Facts:
    """Usage and claim facts of the whole workspace, one aggregate query each."""

    busiest: dict[str, tuple[date, int]]  # key -> (day, clients) of its busiest day over the threshold
    last_link: dict[str, datetime | None]  # unclaimed key -> expiry of its newest link if it expired unclaimed
    used_operations: dict[str, set[str]]  # key -> operations with allowed requests in the permission window
    written: dict[str, set[str]]  # key -> fields it wrote in the permission window

    @classmethod
    async def load(cls, workspace: Workspace, now: datetime) -> _Facts:
        in_ws = {"key__workspace_id": workspace.id}
        shared_rows = (
            await ClientDay.filter(**in_ws, day__gte=_window_start(now, SHARED_WINDOW_DAYS))
            .annotate(clients=Count("id"))
            .group_by("key_id", "day")
            .filter(clients__gt=workspace.shared_key_clients)
            .values("key_id", "day", "clients")
        )
        busiest: dict[str, tuple[date, int]] = {}
        for row in shared_rows:
            seen = (row["day"], int(row["clients"]))
            # Most clients first; on a tie the most recent day.
            if row["key_id"] not in busiest or (seen[1], seen[0]) > (busiest[row["key_id"]][1], busiest[row["key_id"]][0]):
                busiest[row["key_id"]] = seen

        links = await ClaimLink.filter(**in_ws, key__key_hash__isnull=True).order_by("created_at").values("key_id", "expires_at", "claimed_at")
        last_link: dict[str, datetime | None] = {}
        for link in links:  # oldest first: the newest link of a key wins
            expired = link["claimed_at"] is None and link["expires_at"] <= now
            last_link[link["key_id"]] = link["expires_at"] if expired else None

        since = _window_start(now, workspace.unused_permission_days)
        usage = (
            await UsageDay.filter(**in_ws, day__gte=since)
            .annotate(total=Sum("allowed"))
            .group_by("key_id", "operation")
            .values("key_id", "operation", "total")
        )
        used: dict[str, set[str]] = defaultdict(set)
        for row in usage:
            if row["total"]:
                used[row["key_id"]].add(row["operation"])
        shapes = await UsageShape.filter(**in_ws, day__gte=since, requests__gt=0).distinct().values("key_id", "operation", "fields")
        written: dict[str, set[str]] = defaultdict(set)
        for shape in shapes:
            used[shape["key_id"]].add(shape["operation"])
            if shape["operation"] in WRITES and shape["fields"]:
                written[shape["key_id"]].update(shape["fields"].split(","))
        return cls(busiest, last_link, dict(used), dict(written))


def _leaked(keys: list[ApiKey], now: datetime) -> list[Finding]:
    found = []
    for key in keys:
        if key.leaked_at is None:
            continue
        evidence = [f"reported leaked on {_day(key.leaked_at)}" + (f" at {key.leak_url}" if key.leak_url else "")]
        if key.active:
            evidence.append("the key is active again: its leaked secret may still work")
        else:
            evidence.append(f"deactivated on {_day(key.deactivated_at)}" if key.deactivated_at else "deactivated")
        found.append(
            Finding(
                key,
                tuple(evidence),
                (Fix.DEACTIVATE, Fix.REVIEW_BLAST_RADIUS) if key.active else (Fix.REVIEW_BLAST_RADIUS,),
                open=key.active,
                leaked_at=key.leaked_at,
                leak_url=key.leak_url,
                deactivated_at=key.deactivated_at,
            )
        )
    return found


def _shared(keys: list[ApiKey], facts: _Facts, workspace: Workspace, now: datetime) -> list[Finding]:
    found = []
    for key in keys:
        if key.id not in facts.busiest or not _usable(key, now):
            continue
        day, clients = facts.busiest[key.id]
        found.append(
            Finding(
                key,
                (f"{clients} distinct clients on {_day(day)} (more than {workspace.shared_key_clients})",),
                (Fix.DEACTIVATE,),
                day=day,
                clients=clients,
            )
        )
    return found


def _test_before_live(keys: list[ApiKey], now: datetime) -> list[Finding]:
    # Any test key counts, even one switched off since: the partner had somewhere to try first.
    tested = {(k.partner_id, k.endpoint_id) for k in keys if k.environment == Environment.TEST.value}
    found = []
    for key in keys:
        if key.environment != Environment.LIVE.value or (key.partner_id, key.endpoint_id) in tested:
            continue
        if not key.active or status(key, now) is KeyStatus.EXPIRED:
            continue
        evidence = f"live key issued {_day(key.created_at)}; {key.partner.name} never had a test key for {key.endpoint.name}"
        found.append(Finding(key, (evidence,), (Fix.ISSUE_TEST_KEY,)))
    return found


def _plain_text(keys: list[ApiKey], facts: _Facts, now: datetime) -> list[Finding]:
    found = []
    for key in keys:
        state = status(key, now)
        if state is KeyStatus.ACTIVE and key.handover == Handover.REVEAL.value:
            evidence = f"revealed on screen (issued {_day(key.created_at)}) instead of claimed by the partner through a link"
            found.append(Finding(key, (evidence,), (Fix.REPLACE_WITH_CLAIM_LINK, Fix.DEACTIVATE)))
        elif state is KeyStatus.UNCLAIMED and key.active and (expired := facts.last_link.get(key.id)) is not None:
            evidence = f"claim link expired unclaimed on {_day(expired)} (issued {_day(key.created_at)})"
            found.append(Finding(key, (evidence,), (Fix.SEND_CLAIM_LINK, Fix.DEACTIVATE), claim_link_expired_at=expired))
    return found


def _unused(keys: list[ApiKey], workspace: Workspace, now: datetime) -> list[Finding]:
    limit = timedelta(days=workspace.unused_key_days)
    found = []
    for key in keys:
        if not _usable(key, now):
            continue
        if key.last_used_at is None:
            if now - key.created_at <= NEVER_USED_GRACE:
                continue
            evidence = f"issued {_day(key.created_at)}, never used"
            since = key.created_at
        else:
            if now - key.last_used_at <= limit:
                continue
            evidence = f"last used {_day(key.last_used_at)}, {(now - key.last_used_at).days} days ago (limit {workspace.unused_key_days})"
            since = key.last_used_at
        found.append(Finding(key, (evidence,), (Fix.DEACTIVATE,), last_used_at=key.last_used_at, idle_days=(now - since).days))
    return found


def writable_of(key: ApiKey) -> set[str]:
    """The fields a key may write: its list, or every field of its endpoint."""
    if key.writable_fields is not None:
        return set(key.writable_fields)
    return {d.name for d in parse_definitions(key.endpoint.fields)}


def _excess(keys: list[ApiKey], facts: _Facts, workspace: Workspace, now: datetime) -> list[Finding]:
    days = workspace.unused_permission_days
    found = []
    for key in keys:
        # A key younger than the window has not had the time to use what it holds.
        if not _usable(key, now) or now - key.created_at < timedelta(days=days):
            continue
        used = facts.used_operations.get(key.id, set())
        if not used:
            continue  # it used nothing at all: the unused-keys item's business, not a reduction
        unused_ops = tuple(p for p in Permission if p.value in key.permissions and p.value not in used)
        unused_fields: tuple[str, ...] = ()
        if used & set(WRITES):
            unused_fields = tuple(sorted(writable_of(key) - facts.written.get(key.id, set())))
        if not unused_ops and not unused_fields:
            continue
        evidence = []
        if unused_ops:
            names = ", ".join(p.value.upper() for p in unused_ops)
            evidence.append(f"{names} granted, not used in {days} days")
        if unused_fields:
            evidence.append(f"fields {', '.join(unused_fields)} writable but never written in {days} days")
        found.append(
            Finding(
                key,
                tuple(evidence),
                (Fix.REDUCE_PERMISSIONS,),
                unused_operations=unused_ops,
                unused_writable_fields=unused_fields,
            )
        )
    return found


def _idle_deactivated(keys: list[ApiKey], workspace: Workspace) -> list[Finding]:
    found = []
    for key in keys:
        if key.active or key.deactivated_reason != "idle":
            continue
        when = f" on {_day(key.deactivated_at)}" if key.deactivated_at else ""
        last = f"last used {_day(key.last_used_at)}" if key.last_used_at else f"issued {_day(key.created_at)}, never used"
        evidence = f"deactivated{when} by the idle-key policy; {last}"
        found.append(Finding(key, (evidence,), (Fix.REACTIVATE,), open=False, last_used_at=key.last_used_at, deactivated_at=key.deactivated_at))
    return found
