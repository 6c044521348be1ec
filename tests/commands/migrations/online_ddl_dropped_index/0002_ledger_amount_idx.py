from django.db import migrations, models


class Migration(migrations.Migration):
    """Previous release: an index on Ledger.amount, which the new release drops."""

    dependencies = [("green_ddl", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="ledger",
            index=models.Index(fields=["amount"], name="green_ddl_amount_idx"),
        ),
    ]
