from django.db import migrations, models


class Migration(migrations.Migration):
    """A stage that is not one (green_makemigrations.E003)."""

    stage = "mid_deploy"

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="isbn",
            field=models.CharField(max_length=13, null=True),
        ),
    ]
