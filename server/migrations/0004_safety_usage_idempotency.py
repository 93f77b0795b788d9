from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0003_key_rate_limit')]

    initial = False

    operations = [
        # First, so that UsageDay can take over the related name usage_days.
        ops.DeleteModel(name='KeyUsageDay'),
        ops.CreateModel(
            name='ClientDay',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.ForeignKeyField('models.ApiKey', source_field='key_id', db_constraint=True, to_field='id', related_name='client_days', on_delete=OnDelete.CASCADE)),
                ('day', fields.DateField()),
                ('client', fields.CharField(max_length=32)),
                ('requests', fields.IntField(default=0)),
            ],
            options={'table': 'client_day', 'app': 'models', 'unique_together': (('key', 'day', 'client'),), 'pk_attr': 'id', 'table_description': 'The distinct clients of a key per UTC day.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='IdempotentRequest',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.ForeignKeyField('models.ApiKey', source_field='key_id', db_constraint=True, to_field='id', related_name='idempotent_requests', on_delete=OnDelete.CASCADE)),
                ('idempotency_key', fields.CharField(max_length=255)),
                ('request_hash', fields.CharField(max_length=64)),
                ('status', fields.IntField(null=True)),
                ('response', fields.TextField(null=True, unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'idempotent_request', 'app': 'models', 'unique_together': (('key', 'idempotency_key'),), 'indexes': [Index(fields=['created_at'])], 'pk_attr': 'id', 'table_description': "A partner's Idempotency-Key and the answer it got, kept 24 h (services/idempotency.py)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UsageDay',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.ForeignKeyField('models.ApiKey', source_field='key_id', db_constraint=True, to_field='id', related_name='usage_days', on_delete=OnDelete.CASCADE)),
                ('day', fields.DateField()),
                ('operation', fields.CharField(max_length=6)),
                ('allowed', fields.IntField(default=0)),
                ('refused', fields.IntField(default=0)),
            ],
            options={'table': 'usage_day', 'app': 'models', 'unique_together': (('key', 'day', 'operation'),), 'pk_attr': 'id', 'table_description': 'Requests of a key per UTC day and operation, written in batches by services/usage.py.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UsageMonth',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.ForeignKeyField('models.ApiKey', source_field='key_id', db_constraint=True, to_field='id', related_name='usage_months', on_delete=OnDelete.CASCADE)),
                ('month', fields.DateField()),
                ('operation', fields.CharField(max_length=6)),
                ('allowed', fields.IntField(default=0)),
                ('refused', fields.IntField(default=0)),
            ],
            options={'table': 'usage_month', 'app': 'models', 'unique_together': (('key', 'month', 'operation'),), 'pk_attr': 'id', 'table_description': 'UsageDay rows older than 400 days, summed per calendar month (month = its first day).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='UsageShape',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('key', fields.ForeignKeyField('models.ApiKey', source_field='key_id', db_constraint=True, to_field='id', related_name='usage_shapes', on_delete=OnDelete.CASCADE)),
                ('day', fields.DateField()),
                ('operation', fields.CharField(max_length=6)),
                ('fields', fields.TextField(unique=False)),
                ('fields_hash', fields.CharField(max_length=32)),
                ('requests', fields.IntField(default=0)),
            ],
            options={'table': 'usage_shape', 'app': 'models', 'unique_together': (('key', 'day', 'operation', 'fields_hash'),), 'pk_attr': 'id', 'table_description': 'Allowed requests of a key per UTC day, operation and set of record fields.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ApiKey',
            name='deactivated_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='ApiKey',
            name='deactivated_reason',
            field=fields.CharField(null=True, max_length=16),
        ),
        ops.AddField(
            model_name='ApiKey',
            name='leak_url',
            field=fields.CharField(null=True, max_length=2048),
        ),
        ops.AddField(
            model_name='ApiKey',
            name='leaked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Workspace',
            name='idle_key_days',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Workspace',
            name='shared_key_clients',
            field=fields.IntField(default=3, db_default=3),
        ),
        ops.AddField(
            model_name='Workspace',
            name='unused_key_days',
            field=fields.IntField(default=30, db_default=30),
        ),
        ops.AddField(
            model_name='Workspace',
            name='unused_permission_days',
            field=fields.IntField(default=30, db_default=30),
        ),
    ]
