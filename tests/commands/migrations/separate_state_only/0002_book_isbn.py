from django.db import migrations, models


class Migration(migrations.Migration):
    """Add a nullable Book.isbn (no stage written: inferred pre-deploy)."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="isbn",
            field=models.CharField(max_length=13, null=True),
        ),
    ]
