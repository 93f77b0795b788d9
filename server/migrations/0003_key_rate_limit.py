from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0002_accounts_claims_roll_usage')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ApiKey',
            name='rate_limit',
            field=fields.IntField(null=True),
        ),
    ]
