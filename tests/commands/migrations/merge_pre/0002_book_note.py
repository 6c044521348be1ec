from django.db import migrations, models


class Migration(migrations.Migration):
    """A second branch: add Book.note (inferred pre-deploy)."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="note",
            field=models.TextField(null=True),
        ),
    ]
