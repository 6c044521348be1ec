import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Previous release: an Obsolete model, with a foreign key to Book."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.CreateModel(
            name="Obsolete",
            fields=[
                ("id", models.AutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("note", models.CharField(max_length=50)),
                (
                    "book",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, to="testapp.book"
                    ),
                ),
            ],
        ),
    ]
