from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_safety_usage_idempotency')]

    initial = False

    operations = [
        ops.CreateModel(
            name='RateWindow',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('bucket', fields.CharField(max_length=100)),
                ('slot', fields.BigIntField()),
                ('hits', fields.IntField(default=0)),
            ],
            options={'table': 'rate_window', 'app': 'models', 'unique_together': (('bucket', 'slot'),), 'pk_attr': 'id', 'table_description': 'Requests per rate-limit budget and window, shared by every worker on PostgreSQL (ratelimit.py).'},
            bases=['Model'],
        ),
    ]
