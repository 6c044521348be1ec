from django.db import migrations, models


class Migration(migrations.Migration):
    """Previous release of the online DDL app: Ledger without index or check."""

    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Ledger",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("account", models.CharField(max_length=20)),
                ("amount", models.IntegerField(default=0)),
            ],
        ),
    ]
