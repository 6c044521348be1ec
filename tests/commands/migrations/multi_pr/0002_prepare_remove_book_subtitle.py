from django.db import migrations, models

from green_makemigrations.constants import Stage


class Migration(migrations.Migration):
    """Pull request 1 of release N+1: prepare the removal of Book.subtitle."""

    stage = Stage.PRE_DEPLOY

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="book",
            name="subtitle",
            field=models.CharField(max_length=100, null=True),
        ),
    ]
