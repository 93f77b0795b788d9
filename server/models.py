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
    key_hash = db.CharField(max_length=64, unique=True)
    prefix = db.CharField(max_length=8)
    last4 = db.CharField(max_length=4)
    permissions = db.JSONField()  # ["create", "read", "update", "delete"], a subset
    readable_fields = db.JSONField(null=True)  # None: every field
    writable_fields = db.JSONField(null=True)  # None: every field
    row_scope = db.CharField(max_length=3, default="all")  # policy.RowScope
    active = db.BooleanField(default=True)
    expires_at = db.DatetimeField(null=True)
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
        indexes = (("endpoint_id", "environment", "seq"), ("endpoint_id", "environment", "partner_id", "seq"))


class AuditEvent(Model):
    """Append-only: services add rows, nothing updates or deletes them."""

    seq = db.BigIntField(pk=True)
    workspace = db.ForeignKeyField("models.Workspace", related_name="audit_events", on_delete=db.CASCADE)
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
