"""The least-privilege advisor: what a key really used, and what a narrower grant would have refused.

Everything is computed from the usage facts (UsageDay, UsageShape, ClientDay,
written by services/usage.py) of one key over a window of N whole UTC days
ending today, in a handful of aggregate queries. The dry run is exact for the
requests those facts hold: a past request is counted as refused when its
operation is not in the proposal, or when it wrote a field the proposal does
not make writable (create and update). Readable fields refuse nothing (a read
just leaves them out), so they are not part of a dry run.

Applying a reduction goes through keys.set_permissions, which audit-logs it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tortoise.functions import Count, Max, Min, Sum

from server.errors import ValidationFailed, WouldRefuseRequests
from server.fields import parse_definitions
from server.models import ApiKey, ClientDay, Endpoint, UsageDay, UsageShape, Workspace
from server.policy import Permission, Principal, Role
from server.services import keys as key_service
from server.services.audit import Actor
from server.services.keys import KeyGrant

WRITES = frozenset({Permission.CREATE, Permission.UPDATE})
MAX_DAYS = 400  # usage facts are kept 400 days (services/usage.py)


@dataclass(frozen=True, slots=True)
class Proposal:
    """Operations and writable fields (None: every field of the endpoint)."""

    permissions: frozenset[Permission]
    writable_fields: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class RefusedShape:
    operation: Permission
    fields: tuple[str, ...]  # the fields those requests wrote ("" for reads and deletes)
    requests: int
    reason: str


@dataclass(frozen=True, slots=True)
class DryRun:
    days: int
    since: date
    proposal: Proposal
    requests: int  # allowed requests in the window
    would_refuse: int
    refused: list[RefusedShape]


@dataclass(frozen=True, slots=True)
class OperationUsage:
    operation: Permission
    granted: bool
    allowed: int
    refused: int
    first_day: date | None
    last_day: date | None


@dataclass(frozen=True, slots=True)
class FieldUsage:
    name: str
    writable: bool
    requests: int  # allowed create / update requests that wrote it


@dataclass(frozen=True, slots=True)
class UsageReport:
    key: ApiKey
    days: int
    since: date
    operations: list[OperationUsage]
    fields_written: list[FieldUsage]
    distinct_clients: int
    busiest_day: date | None
    busiest_day_clients: int
    first_day: date | None
    last_day: date | None
    suggestion: Proposal
    suggestion_dry_run: DryRun


def window(days: int, now: datetime | None = None) -> date:
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(fields={"days": f"must be between 1 and {MAX_DAYS}"})
    return (now or datetime.now(UTC)).astimezone(UTC).date() - timedelta(days=days - 1)


async def _days(key: ApiKey, days: int | None) -> int:
    if days is not None:
        return days
    return (await Workspace.get(id=key.workspace_id).only("id", "unused_permission_days")).unused_permission_days


async def _shapes(key_id: str, since: date) -> list[tuple[Permission, str, int]]:
    rows = (
        await UsageShape.filter(key_id=key_id, day__gte=since)
        .annotate(total=Sum("requests"))
        .group_by("operation", "fields")
        .values("operation", "fields", "total")
    )
    return [(Permission(r["operation"]), r["fields"], int(r["total"] or 0)) for r in rows if r["total"]]


def judge(shapes: list[tuple[Permission, str, int]], proposal: Proposal, days: int, since: date) -> DryRun:
    refused = []
    for operation, fields, requests in shapes:
        written = tuple(f for f in fields.split(",") if f)
        if operation not in proposal.permissions:
            reason = f"{operation.value.upper()} would not be granted"
        elif operation in WRITES and proposal.writable_fields is not None and not set(written) <= proposal.writable_fields:
            outside = sorted(set(written) - proposal.writable_fields)
            reason = f"writes {', '.join(outside)}, which would not be writable"
        else:
            continue
        refused.append(RefusedShape(operation, written, requests, reason))
    refused.sort(key=lambda r: (-r.requests, r.operation.value, r.fields))
    return DryRun(days, since, proposal, sum(s[2] for s in shapes), sum(r.requests for r in refused), refused)


def used_proposal(key: ApiKey, shapes: list[tuple[Permission, str, int]], used_operations: set[Permission]) -> Proposal:
    """Exactly what the key used: its operations, and the fields it wrote (within what it may write)."""
    operations = used_operations | {operation for operation, _, _ in shapes}
    written = {f for operation, fields, _ in shapes if operation in WRITES for f in fields.split(",") if f}
    if key.writable_fields is not None:
        written &= set(key.writable_fields)
    return Proposal(frozenset(operations) & frozenset(Permission(p) for p in key.permissions), frozenset(written))


async def _used_operations(key_id: str, since: date) -> set[Permission]:
    rows = await UsageDay.filter(key_id=key_id, day__gte=since, operation__in=[p.value for p in Permission]).annotate(total=Sum("allowed")).group_by("operation").values("operation", "total")
    return {Permission(r["operation"]) for r in rows if r["total"]}


async def dry_run(principal: Principal, key_id: str, proposal: Proposal, days: int | None = None) -> DryRun:
    """How many of the key's allowed requests in the window `proposal` would have refused (any member)."""
    key = await key_service.get_key(principal, key_id)
    days = await _days(key, days)
    since = window(days)
    await _check_fields(key, proposal)
    return judge(await _shapes(key.id, since), proposal, days, since)


async def _check_fields(key: ApiKey, proposal: Proposal) -> None:
    if proposal.writable_fields is None:
        return
    known = {d.name for d in parse_definitions((await Endpoint.get(id=key.endpoint_id)).fields)}
    unknown = sorted(proposal.writable_fields - known)
    if unknown:
        raise ValidationFailed(fields={"writableFields": f"not fields of this endpoint: {', '.join(unknown)}"})


async def usage_report(principal: Principal, key_id: str, days: int | None = None) -> UsageReport:
    """What a key really used in the last `days` days, and the grant that would have been enough (any member)."""
    key = await key_service.get_key(principal, key_id)
    days = await _days(key, days)
    since = window(days)
    rows = (
        # Only record operations: requests refused before one was read (a deactivated
        # or rate-limited key) are counted under "" (services/usage.py).
        await UsageDay.filter(key_id=key.id, day__gte=since, operation__in=[p.value for p in Permission])
        .annotate(allowed_total=Sum("allowed"), refused_total=Sum("refused"), first=Min("day"), last=Max("day"))
        .group_by("operation")
        .values("operation", "allowed_total", "refused_total", "first", "last")
    )
    by_operation = {Permission(r["operation"]): r for r in rows}
    operations = []
    for permission in Permission:
        row = by_operation.get(permission)
        operations.append(
            OperationUsage(
                permission,
                permission.value in key.permissions,
                int(row["allowed_total"] or 0) if row else 0,
                int(row["refused_total"] or 0) if row else 0,
                _date(row["first"]) if row else None,
                _date(row["last"]) if row else None,
            )
        )
    shapes = await _shapes(key.id, since)
    per_field: dict[str, int] = defaultdict(int)
    for operation, fields, requests in shapes:
        if operation in WRITES:
            for name in filter(None, fields.split(",")):
                per_field[name] += requests
    endpoint_fields = [d.name for d in parse_definitions((await Endpoint.get(id=key.endpoint_id)).fields)]
    writable = set(endpoint_fields if key.writable_fields is None else key.writable_fields)
    names = [n for n in endpoint_fields if n in writable or n in per_field] + sorted(set(per_field) - set(endpoint_fields))
    fields_written = [FieldUsage(n, n in writable, per_field.get(n, 0)) for n in names]

    clients = await ClientDay.filter(key_id=key.id, day__gte=since).distinct().values_list("client", flat=True)
    per_day = (
        await ClientDay.filter(key_id=key.id, day__gte=since).annotate(n=Count("id")).group_by("day").values("day", "n")
    )
    busiest = max(per_day, key=lambda r: (int(r["n"]), _date(r["day"])), default=None)
    active_days = [o for o in operations if o.allowed or o.refused]
    suggestion = used_proposal(key, shapes, {o.operation for o in operations if o.allowed})
    return UsageReport(
        key=key,
        days=days,
        since=since,
        operations=operations,
        fields_written=fields_written,
        distinct_clients=len(set(clients)),
        busiest_day=_date(busiest["day"]) if busiest else None,
        busiest_day_clients=int(busiest["n"]) if busiest else 0,
        first_day=min((o.first_day for o in active_days if o.first_day), default=None),
        last_day=max((o.last_day for o in active_days if o.last_day), default=None),
        suggestion=suggestion,
        suggestion_dry_run=judge(shapes, suggestion, days, since),
    )


def _date(value: date | str) -> date:
    # Aggregates (MIN / MAX) come back from SQLite as text.
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


async def reduce_permissions(
    principal: Principal,
    key_id: str,
    actor: Actor,
    *,
    proposal: Proposal | None = None,
    days: int | None = None,
    accept_refusals: bool = False,
) -> tuple[ApiKey, DryRun]:
    """Narrow a key (ADMIN) to `proposal`, or to what it used in the window when there is none.

    Only narrows: adding an operation or a writable field is setKeyPermissions'
    job. Refused with WOULD_REFUSE_REQUESTS when past traffic shows the
    partner would be refused, unless the caller accepts that explicitly.
    Readable fields, row scope, expiry and rate limit stay as they are.
    """
    key = await key_service.get_key(principal, key_id, Role.ADMIN)
    days = await _days(key, days)
    since = window(days)
    shapes = await _shapes(key.id, since)
    if proposal is None:
        proposal = used_proposal(key, shapes, await _used_operations(key.id, since))
        if not proposal.permissions:
            raise ValidationFailed(
                f"This key used nothing in the last {days} days: deactivate it instead.", fields={"permissions": "nothing was used"}
            )
    await _check_fields(key, proposal)
    _check_narrower(key, proposal)
    result = judge(shapes, proposal, days, since)
    if result.would_refuse and not accept_refusals:
        raise WouldRefuseRequests(
            f"{result.would_refuse} of this key's {result.requests} requests in the last {days} days would have been refused.",
            wouldRefuse=result.would_refuse,
            requests=result.requests,
        )
    grant = KeyGrant.parse(
        [p.value for p in proposal.permissions],
        readable_fields=key.readable_fields,
        writable_fields=None if proposal.writable_fields is None else sorted(proposal.writable_fields),
        row_scope=key.row_scope,
        expires_at=key.expires_at,
        rate_limit=key.rate_limit,
    )
    return await key_service.set_permissions(principal, key.id, grant, actor), result


def _check_narrower(key: ApiKey, proposal: Proposal) -> None:
    added = sorted(p.value.upper() for p in proposal.permissions if p.value not in key.permissions)
    problems = {}
    if added:
        problems["permissions"] = f"would add {', '.join(added)}: use setKeyPermissions to widen a key"
    if key.writable_fields is not None:
        if proposal.writable_fields is None:
            problems["writableFields"] = "would make every field writable: use setKeyPermissions to widen a key"
        elif proposal.writable_fields - set(key.writable_fields):
            extra = ", ".join(sorted(proposal.writable_fields - set(key.writable_fields)))
            problems["writableFields"] = f"would make {extra} writable: use setKeyPermissions to widen a key"
    if problems:
        raise ValidationFailed(fields=problems)
