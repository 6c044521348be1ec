from django.db import migrations, models


class Migration(migrations.Migration):
    """Previous release: Book.legacy, stored in column legacy_code, with a default."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="legacy",
            field=models.CharField(db_column="legacy_code", default="legacy", max_length=20),
        ),
    ]
