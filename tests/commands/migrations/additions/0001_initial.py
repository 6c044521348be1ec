import django.db.models.deletion
from django.db import migrations, models

import tests.commands.additions_app.models


class Migration(migrations.Migration):
    """Previous release of the additions app: Gadget has only its name."""

    initial = True

    dependencies = []

    operations = [
        migrations.CreateModel(
            name="Maker",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=50)),
            ],
        ),
        migrations.CreateModel(
            name="Gadget",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=50)),
            ],
        ),
        migrations.CreateModel(
            name="Widget",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=50)),
                (
                    "serial",
                    models.CharField(
                        default=tests.commands.additions_app.models.make_serial, max_length=12
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Part",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=50)),
                ("gadget", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="parts", to="green_add.gadget")),
            ],
            options={"order_with_respect_to": "gadget"},
        ),
    ]
