"""Tortoise models: the tables and nothing else.

Rules about who may touch a row live in policy.py, operations in services/.
Every change here needs a migration (`threemin makemigrations`); a test fails
when one is missing.
"""

from __future__ import annotations

from tortoise import fields as db
from tortoise.models import Model

from server import ids


class Workspace(Model):
    id = db.CharField(pk=True, max_length=32, default=ids.workspace_id)
    name = db.CharField(max_length=200)
    # The safety checklist's thresholds (services/checklist.py).
    shared_key_clients = db.IntField(default=3, db_default=3)  # distinct clients of one key in a day
    unused_key_days = db.IntField(default=30, db_default=30)
    unused_permission_days = db.IntField(default=30, db_default=30)
    # Idle-key policy: deactivate (never delete) keys unused this many days. None: off.
    idle_key_days = db.IntField(null=True)
    created_at = db.DatetimeField(auto_now_add=True)

    class Meta:
        table = "workspace"


class Endpoint(Model):
    id = db.CharField(pk=True, max_length=32, default=ids.endpoint_id)
    workspace = db.ForeignKeyField("models.Workspace", related_name="endpoints", on_delete=db.CASCADE)
    name = db.CharField(max_length=100)
    # [{"name", "type", "required", limits…}], see server/fields.py
    fields = db.JSONField()
    archived_at = db.DatetimeField(null=True)
    created_at = db.DatetimeField(auto_now_add=True)

    class Meta:
        table = "endpoint"
        unique_together = (("workspace", "name"),)


class Partner(Model):
    id = db.CharField(pk=True, max_length=32, default=ids.partner_id)
    workspace = db.ForeignKeyField("models.Workspace", related_name="partners", on_delete=db.CASCADE)
    name = db.CharField(max_length=200)
    archived_at = db.DatetimeField(null=True)
    created_at = db.DatetimeField(auto_now_add=True)

    class Meta:
        table = "partner"
        unique_together = (("workspace", "name"),)


class ApiKey(Model):
    id = db.CharField(pk=True, max_length=32, default=ids.key_id)
    workspace = db.ForeignKeyField("models.Workspace", related_name="keys", on_delete=db.CASCADE)
    partner = db.ForeignKeyField("models.Partner", related_name="keys", on_delete=db.CASCADE)
    endpoint = db.ForeignKeyField("models.Endpoint", related_name="keys", on_delete=db.CASCADE)
    environment = db.CharField(max_length=4)  # keys.Environment
    # HMAC-SHA256 of the key (keys.hash_key); the plaintext is never stored.
    # None while a claim link waits: the key is minted only when claimed.
    key_hash = db.CharField(max_length=64, unique=True, null=True)
    # After a roll, the old secret keeps working until previous_expires_at.
    previous_hash = db.CharField(max_length=64, unique=True, null=True)
    previous_expires_at = db.DatetimeField(null=True)
    prefix = db.CharField(max_length=8)
    last4 = db.CharField(max_length=4, default="")
    handover = db.CharField(max_length=8, default="reveal", db_default="reveal")  # services.keys.Handover
    permissions = db.JSONField()  # ["create", "read", "update", "delete"], a subset
    readable_fields = db.JSONField(null=True)  # None: every field
    writable_fields = db.JSONField(null=True)  # None: every field
    row_scope = db.CharField(max_length=3, default="all")  # policy.RowScope
    active = db.BooleanField(default=True)
    # Why and when the key was last deactivated: "manual", "leaked", "idle".
    deactivated_reason = db.CharField(max_length=16, null=True)
    deactivated_at = db.DatetimeField(null=True)
    # Where a leak report (leak_report.py) says the key was found.
    leaked_at = db.DatetimeField(null=True)
    leak_url = db.CharField(max_length=2048, null=True)
    expires_at = db.DatetimeField(null=True)
    # Requests per minute for this key; None: the workspace default (settings).
    rate_limit = db.IntField(null=True)
    # Written in batches by services/usage.py, not on every request.
    last_used_at = db.DatetimeField(null=True)
    created_by = db.CharField(max_length=64)
    created_at = db.DatetimeField(auto_now_add=True)

    class Meta:
        table = "api_key"


class Record(Model):
    # The integer key orders records (keyset paging, newest first) and keeps
    # inserts cheap; partners only ever see the random `id`.
    seq = db.BigIntField(pk=True)
    id = db.CharField(max_length=32, unique=True, default=ids.record_id)
    endpoint = db.ForeignKeyField("models.Endpoint", related_name="records", on_delete=db.CASCADE)
    environment = db.CharField(max_length=4)
    partner = db.ForeignKeyField("models.Partner", related_name="records", on_delete=db.CASCADE)
    key = db.ForeignKeyField("models.ApiKey", related_name="records", null=True, on_delete=db.SET_NULL)
    data = db.JSONField()
    created_at = db.DatetimeField(auto_now_add=True)
    updated_at = db.DatetimeField(auto_now=True)

    class Meta:
        table = "record"
        # The last one serves a leaked key's blast radius (services/blast_radius.py) on any number of records.
        indexes = (("endpoint_id", "environment", "seq"), ("endpoint_id", "environment", "partner_id", "seq"), ("key_id", "seq"))


class AuditEvent(Model):
    """Append-only: services add rows, nothing updates or deletes them.

    `workspace` is None only for events no workspace owns, such as a failed
    sign-in with an unknown email. (No semicolons in model docstrings: they
    become SQL comments, and the migration runner splits statements on them.)
    """

    seq = db.BigIntField(pk=True)
    workspace = db.ForeignKeyField("models.Workspace", related_name="audit_events", on_delete=db.CASCADE, null=True)
    actor = db.CharField(max_length=64)  # "cli", a user id, a key id
    action = db.CharField(max_length=64)  # e.g. "key.issue"
    target_kind = db.CharField(max_length=16)
    target_id = db.CharField(max_length=32)
    before = db.JSONField(null=True)
    after = db.JSONField(null=True)
    ip = db.CharField(max_length=64, null=True)
    user_agent = db.CharField(max_length=300, null=True)
    created_at = db.DatetimeField(auto_now_add=True)

    class Meta:
        table = "audit_event"
        indexes = (("workspace_id", "seq"),)


class User(Model):
    id = db.CharField(pk=True, max_length=32, default=ids.user_id)
    email = db.CharField(max_length=254, unique=True)  # stored lower-case
    name = db.CharField(max_length=200)
    password_hash = db.CharField(max_length=200)  # argon2id
    created_at = db.DatetimeField(auto_now_add=True)

    class Meta:
        table = "user"


class Membership(Model):
    workspace = db.ForeignKeyField("models.Workspace", related_name="memberships", on_delete=db.CASCADE)
    user = db.ForeignKeyField("models.User", related_name="memberships", on_delete=db.CASCADE)
    role = db.CharField(max_length=8)  # policy.Role
    created_at = db.DatetimeField(auto_now_add=True)

    class Meta:
        table = "membership"
        unique_together = (("workspace", "user"),)


class Session(Model):
    """A signed-in browser. The cookie holds a random id, the table only its HMAC."""

    token_hash = db.CharField(max_length=64, unique=True)
    user = db.ForeignKeyField("models.User", related_name="sessions", on_delete=db.CASCADE)
    created_at = db.DatetimeField(auto_now_add=True)
    last_seen_at = db.DatetimeField()
    expires_at = db.DatetimeField()  # absolute expiry; idle expiry is last_seen_at + settings
    ip = db.CharField(max_length=64, null=True)
    user_agent = db.CharField(max_length=300, null=True)

    class Meta:
        table = "session"


class Invitation(Model):
    """A one-time link to join a workspace (with no workspace: the first-run setup link)."""

    id = db.CharField(pk=True, max_length=32, default=ids.invitation_id)
    workspace = db.ForeignKeyField("models.Workspace", related_name="invitations", on_delete=db.CASCADE, null=True)
    email = db.CharField(max_length=254, null=True)
    role = db.CharField(max_length=8)
    token_hash = db.CharField(max_length=64, unique=True)
    expires_at = db.DatetimeField()
    accepted_at = db.DatetimeField(null=True)
    created_by = db.CharField(max_length=64)
    created_at = db.DatetimeField(auto_now_add=True)

    class Meta:
        table = "invitation"


class ClaimLink(Model):
    """A one-time link through which a partner mints its own key."""

    id = db.CharField(pk=True, max_length=32, default=ids.claim_link_id)
    key = db.ForeignKeyField("models.ApiKey", related_name="claim_links", on_delete=db.CASCADE)
    token_hash = db.CharField(max_length=64, unique=True)
    expires_at = db.DatetimeField()
    claimed_at = db.DatetimeField(null=True)
    created_by = db.CharField(max_length=64)
    created_at = db.DatetimeField(auto_now_add=True)

    class Meta:
        table = "claim_link"


class UsageDay(Model):
    """Requests of a key per UTC day and operation, written in batches by services/usage.py."""

    key = db.ForeignKeyField("models.ApiKey", related_name="usage_days", on_delete=db.CASCADE)
    day = db.DateField()
    operation = db.CharField(max_length=6)  # policy.Permission
    allowed = db.IntField(default=0)
    refused = db.IntField(default=0)

    class Meta:
        table = "usage_day"
        unique_together = (("key", "day", "operation"),)


class UsageShape(Model):
    """Allowed requests of a key per UTC day, operation and set of record fields.

    `fields` is the sorted, comma-joined set of the endpoint's fields a request
    wrote (create, update), empty for read and delete (reads are narrowed to
    the readable fields, never refused for them). It is what lets the least-privilege dry run count
    exactly which past requests a narrower grant would have refused.
    """

    key = db.ForeignKeyField("models.ApiKey", related_name="usage_shapes", on_delete=db.CASCADE)
    day = db.DateField()
    operation = db.CharField(max_length=6)
    fields = db.TextField()
    fields_hash = db.CharField(max_length=32)  # of `fields`, so the unique index stays small
    requests = db.IntField(default=0)

    class Meta:
        table = "usage_shape"
        unique_together = (("key", "day", "operation", "fields_hash"),)


class UsageMonth(Model):
    """UsageDay rows older than 400 days, summed per calendar month (month = its first day)."""

    key = db.ForeignKeyField("models.ApiKey", related_name="usage_months", on_delete=db.CASCADE)
    month = db.DateField()
    operation = db.CharField(max_length=6)
    allowed = db.IntField(default=0)
    refused = db.IntField(default=0)

    class Meta:
        table = "usage_month"
        unique_together = (("key", "month", "operation"),)


class ClientDay(Model):
    """The distinct clients of a key per UTC day.

    A client is the source network (/24 or /64) plus the user agent, stored
    only as a keyed hash (services/usage.py), never the raw address.
    """

    key = db.ForeignKeyField("models.ApiKey", related_name="client_days", on_delete=db.CASCADE)
    day = db.DateField()
    client = db.CharField(max_length=32)
    requests = db.IntField(default=0)

    class Meta:
        table = "client_day"
        unique_together = (("key", "day", "client"),)


class IdempotentRequest(Model):
    """A partner's Idempotency-Key and the answer it got, kept 24 h (services/idempotency.py)."""

    key = db.ForeignKeyField("models.ApiKey", related_name="idempotent_requests", on_delete=db.CASCADE)
    idempotency_key = db.CharField(max_length=255)
    request_hash = db.CharField(max_length=64)  # SHA-256 of the request body
    status = db.IntField(null=True)  # HTTP status, None while the first attempt runs
    response = db.TextField(null=True)  # the response body, as sent
    created_at = db.DatetimeField(auto_now_add=True)

    class Meta:
        table = "idempotent_request"
        unique_together = (("key", "idempotency_key"),)
        indexes = (("created_at",),)


class RateWindow(Model):
    """Requests per rate-limit budget and window, shared by every worker on PostgreSQL (ratelimit.py)."""

    bucket = db.CharField(max_length=100)
    slot = db.BigIntField()  # the window's start, Unix seconds
    hits = db.IntField(default=0)

    class Meta:
        table = "rate_window"
        unique_together = (("bucket", "slot"),)
