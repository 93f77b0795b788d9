from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0005_shared_rate_limits')]

    initial = False

    operations = [
        ops.AddIndex(
            model_name='Record',
            index=Index(fields=['key_id', 'seq']),
        ),
    ]
