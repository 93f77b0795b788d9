from orjson import loads
from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from server.ids import endpoint_id, key_id, partner_id, record_id, workspace_id


class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Workspace',
            fields=[
                ('id', fields.CharField(primary_key=True, default=workspace_id, unique=True, db_index=True, max_length=32)),
                ('name', fields.CharField(max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'workspace', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='AuditEvent',
            fields=[
                ('seq', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='audit_events', on_delete=OnDelete.CASCADE)),
                ('actor', fields.CharField(max_length=64)),
                ('action', fields.CharField(max_length=64)),
                ('target_kind', fields.CharField(max_length=16)),
                ('target_id', fields.CharField(max_length=32)),
                ('before', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('after', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('ip', fields.CharField(null=True, max_length=64)),
                ('user_agent', fields.CharField(null=True, max_length=300)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'audit_event', 'app': 'models', 'indexes': [Index(fields=['workspace_id', 'seq'])], 'pk_attr': 'seq', 'table_description': 'Append-only: services add rows, nothing updates or deletes them.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Endpoint',
            fields=[
                ('id', fields.CharField(primary_key=True, default=endpoint_id, unique=True, db_index=True, max_length=32)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='endpoints', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=100)),
                ('fields', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('archived_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'endpoint', 'app': 'models', 'unique_together': (('workspace', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Partner',
            fields=[
                ('id', fields.CharField(primary_key=True, default=partner_id, unique=True, db_index=True, max_length=32)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='partners', on_delete=OnDelete.CASCADE)),
                ('name', fields.CharField(max_length=200)),
                ('archived_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'partner', 'app': 'models', 'unique_together': (('workspace', 'name'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ApiKey',
            fields=[
                ('id', fields.CharField(primary_key=True, default=key_id, unique=True, db_index=True, max_length=32)),
                ('workspace', fields.ForeignKeyField('models.Workspace', source_field='workspace_id', db_constraint=True, to_field='id', related_name='keys', on_delete=OnDelete.CASCADE)),
                ('partner', fields.ForeignKeyField('models.Partner', source_field='partner_id', db_constraint=True, to_field='id', related_name='keys', on_delete=OnDelete.CASCADE)),
                ('endpoint', fields.ForeignKeyField('models.Endpoint', source_field='endpoint_id', db_constraint=True, to_field='id', related_name='keys', on_delete=OnDelete.CASCADE)),
                ('environment', fields.CharField(max_length=4)),
                ('key_hash', fields.CharField(unique=True, max_length=64)),
                ('prefix', fields.CharField(max_length=8)),
                ('last4', fields.CharField(max_length=4)),
                ('permissions', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('readable_fields', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('writable_fields', fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads)),
                ('row_scope', fields.CharField(default='all', max_length=3)),
                ('active', fields.BooleanField(default=True)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_by', fields.CharField(max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'api_key', 'app': 'models', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Record',
            fields=[
                ('seq', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('id', fields.CharField(default=record_id, unique=True, max_length=32)),
                ('endpoint', fields.ForeignKeyField('models.Endpoint', source_field='endpoint_id', db_constraint=True, to_field='id', related_name='records', on_delete=OnDelete.CASCADE)),
                ('environment', fields.CharField(max_length=4)),
                ('partner', fields.ForeignKeyField('models.Partner', source_field='partner_id', db_constraint=True, to_field='id', related_name='records', on_delete=OnDelete.CASCADE)),
                ('key', fields.ForeignKeyField('models.ApiKey', source_field='key_id', null=True, db_constraint=True, to_field='id', related_name='records', on_delete=OnDelete.SET_NULL)),
                ('data', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'record', 'app': 'models', 'indexes': [Index(fields=['endpoint_id', 'environment', 'seq']), Index(fields=['endpoint_id', 'environment', 'partner_id', 'seq'])], 'pk_attr': 'seq'},
            bases=['Model'],
        ),
    ]
