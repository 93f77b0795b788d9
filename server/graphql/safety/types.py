"""The safety checklist, the least-privilege advisor and the safety settings as GraphQL types."""

from __future__ import annotations

from datetime import date, datetime

import strawberry

from server import models
from server.graphql.enums import Permission
from server.graphql.keys.types import ApiKey
from server.policy import Permission as PolicyPermission
from server.services import advisor, checklist
from server.services.workspaces import safety_settings

ChecklistItemKind = strawberry.enum(
    checklist.ItemKind,
    name="ChecklistItemKind",
    description="SHARED_KEYS, TEST_BEFORE_LIVE, PLAIN_TEXT_HANDOVER, UNUSED_KEYS and EXCESS_PERMISSIONS are the five questions; "
    "LEAKED_KEYS lists keys reported in public; IDLE_DEACTIVATED (informational) the keys the idle-key policy switched off.",
)
ChecklistFix = strawberry.enum(
    checklist.Fix,
    name="ChecklistFix",
    description="A fix a finding offers: DEACTIVATE (deactivateKey, or deactivateKeys for all listed), REDUCE_PERMISSIONS "
    "(reduceKeyPermissions), REPLACE_WITH_CLAIM_LINK (replaceWithClaimLink), SEND_CLAIM_LINK (createClaimLink), ISSUE_TEST_KEY "
    "(issueKey with environment TEST, same partner and endpoint), REVIEW_BLAST_RADIUS (blastRadius), REACTIVATE (reactivateKey).",
)


@strawberry.type(description="A workspace's checklist thresholds and idle-key policy.")
class SafetySettings:
    shared_key_clients: int = strawberry.field(description="A key used by more distinct clients than this in one day looks shared.")
    unused_key_days: int = strawberry.field(description="An active key not used for more than this many days is unused.")
    unused_permission_days: int = strawberry.field(description="An operation or writable field not used in this many days is excess.")
    idle_key_days: int | None = strawberry.field(description="The idle-key policy deactivates keys unused this many days; null: off.")

    @classmethod
    def from_model(cls, workspace: models.Workspace) -> SafetySettings:
        return cls(**safety_settings(workspace))


@strawberry.input(description="Change the thresholds and the idle-key policy; fields left out stay as they are.")
class SafetySettingsInput:
    shared_key_clients: int | None = strawberry.UNSET
    unused_key_days: int | None = strawberry.UNSET
    unused_permission_days: int | None = strawberry.UNSET
    idle_key_days: int | None = strawberry.field(default=strawberry.UNSET, description="null turns the idle-key policy off.")

    def changes(self) -> dict[str, int | None]:
        return {name: value for name, value in vars(self).items() if value is not strawberry.UNSET}


@strawberry.type(description="One key concerned by a checklist item, with the evidence and the fixes it offers.")
class ChecklistFinding:
    key: ApiKey
    evidence: list[str] = strawberry.field(description='Concrete facts, e.g. "5 distinct clients on 2026-11-30".')
    fixes: list[ChecklistFix]
    open: bool = strawberry.field(description="Counts in openCount; false for informational findings (a leaked key already off).")
    day: date | None = strawberry.field(description="SHARED_KEYS: the day with the most distinct clients.")
    clients: int | None = strawberry.field(description="SHARED_KEYS: distinct clients on that day.")
    last_used_at: datetime | None
    idle_days: int | None = strawberry.field(description="UNUSED_KEYS: whole days since the last use, or since issue if never used.")
    claim_link_expired_at: datetime | None = strawberry.field(description="PLAIN_TEXT_HANDOVER: when the unclaimed link expired.")
    unused_operations: list[Permission] | None = strawberry.field(description="EXCESS_PERMISSIONS: operations granted but not used.")
    unused_writable_fields: list[str] | None = strawberry.field(description="EXCESS_PERMISSIONS: writable fields never written.")
    leaked_at: datetime | None
    leak_url: str | None
    deactivated_at: datetime | None

    @classmethod
    def from_finding(cls, f: checklist.Finding) -> ChecklistFinding:
        return cls(
            key=ApiKey.from_model(f.key),
            evidence=list(f.evidence),
            fixes=list(f.fixes),
            open=f.open,
            day=f.day,
            clients=f.clients,
            last_used_at=f.last_used_at,
            idle_days=f.idle_days,
            claim_link_expired_at=f.claim_link_expired_at,
            unused_operations=None if f.unused_operations is None else list(f.unused_operations),
            unused_writable_fields=None if f.unused_writable_fields is None else list(f.unused_writable_fields),
            leaked_at=f.leaked_at,
            leak_url=f.leak_url,
            deactivated_at=f.deactivated_at,
        )


@strawberry.type(description="One question of the checklist and the keys it concerns.")
class ChecklistItem:
    kind: ChecklistItemKind
    question: str
    open_count: int = strawberry.field(description="Findings that need a fix; 0: all good.")
    findings: list[ChecklistFinding]


@strawberry.type(description="The safety checklist of a workspace, computed now from its keys and their use.")
class Checklist:
    open_count: int = strawberry.field(description="Open findings over all items (the navigation badge).")
    generated_at: datetime
    items: list[ChecklistItem]
    settings: SafetySettings

    @classmethod
    def from_checklist(cls, built: checklist.Checklist) -> Checklist:
        return cls(
            open_count=built.open_count,
            generated_at=built.generated_at,
            items=[
                ChecklistItem(kind=i.kind, question=i.kind.question, open_count=i.open_count, findings=[ChecklistFinding.from_finding(f) for f in i.findings])
                for i in built.items
            ],
            settings=SafetySettings.from_model(built.workspace),
        )


@strawberry.type(description="Operations and writable fields (null: every field of the endpoint).")
class PermissionProposal:
    permissions: list[Permission]
    writable_fields: list[str] | None

    @classmethod
    def from_proposal(cls, p: advisor.Proposal) -> PermissionProposal:
        return cls(
            permissions=[x for x in PolicyPermission if x in p.permissions],
            writable_fields=None if p.writable_fields is None else sorted(p.writable_fields),
        )


@strawberry.input(description="A proposed grant: operations, and writable fields (null: every field).")
class PermissionProposalInput:
    permissions: list[Permission]
    writable_fields: list[str] | None = None

    def proposal(self) -> advisor.Proposal:
        return advisor.Proposal(
            frozenset(PolicyPermission(p.value) for p in self.permissions),
            None if self.writable_fields is None else frozenset(self.writable_fields),
        )


@strawberry.type(description="Requests of one shape (operation + fields written) that a proposal would have refused.")
class RefusedRequests:
    operation: Permission
    fields: list[str] = strawberry.field(description="The fields those requests wrote (empty for reads and deletes).")
    requests: int
    reason: str


@strawberry.type(description="A dry run: the key's allowed requests in the window replayed against a proposal.")
class DryRun:
    days: int
    since: date = strawberry.field(description="The first UTC day of the window (the window ends today).")
    proposal: PermissionProposal
    requests: int = strawberry.field(description="Allowed requests of the key in the window.")
    would_refuse: int = strawberry.field(description="How many of them the proposal would have refused: exact.")
    safe: bool = strawberry.field(description="wouldRefuse is 0.")
    refused: list[RefusedRequests] = strawberry.field(description="The breakdown of wouldRefuse, largest first.")

    @classmethod
    def from_dry_run(cls, d: advisor.DryRun) -> DryRun:
        return cls(
            days=d.days,
            since=d.since,
            proposal=PermissionProposal.from_proposal(d.proposal),
            requests=d.requests,
            would_refuse=d.would_refuse,
            safe=d.would_refuse == 0,
            refused=[RefusedRequests(operation=r.operation, fields=list(r.fields), requests=r.requests, reason=r.reason) for r in d.refused],
        )


@strawberry.type(description="A key's use of one operation in the window.")
class OperationUsage:
    operation: Permission
    granted: bool
    allowed: int
    refused: int
    first_day: date | None
    last_day: date | None


@strawberry.type(description="A field the key may write or did write, and how many allowed requests wrote it.")
class FieldUsage:
    name: str
    writable: bool
    requests: int


@strawberry.type(description="What a key really used in the last N days, and the narrowest grant that would have served it.")
class KeyUsage:
    key: ApiKey
    days: int
    since: date
    operations: list[OperationUsage] = strawberry.field(description="All four operations, granted or not.")
    fields_written: list[FieldUsage]
    distinct_clients: int
    busiest_day: date | None = strawberry.field(description="The day with the most distinct clients.")
    busiest_day_clients: int
    first_day: date | None = strawberry.field(description="First day with any request in the window.")
    last_day: date | None
    suggestion: PermissionProposal = strawberry.field(description="What it used: the grant reduceKeyPermissions applies by default.")
    suggestion_dry_run: DryRun

    @classmethod
    def from_report(cls, r: advisor.UsageReport) -> KeyUsage:
        return cls(
            key=ApiKey.from_model(r.key),
            days=r.days,
            since=r.since,
            operations=[OperationUsage(operation=o.operation, granted=o.granted, allowed=o.allowed, refused=o.refused, first_day=o.first_day, last_day=o.last_day) for o in r.operations],
            fields_written=[FieldUsage(name=f.name, writable=f.writable, requests=f.requests) for f in r.fields_written],
            distinct_clients=r.distinct_clients,
            busiest_day=r.busiest_day,
            busiest_day_clients=r.busiest_day_clients,
            first_day=r.first_day,
            last_day=r.last_day,
            suggestion=PermissionProposal.from_proposal(r.suggestion),
            suggestion_dry_run=DryRun.from_dry_run(r.suggestion_dry_run),
        )


@strawberry.type(description="A permission reduction just applied, with the dry run it was judged by.")
class ReducedKey:
    key: ApiKey
    dry_run: DryRun

