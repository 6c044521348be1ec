from django.db import migrations, models

from green_makemigrations.constants import Stage


class Migration(migrations.Migration):
    """Hand-written pre-deploy migration chained after a pending post-deploy one."""

    stage = Stage.PRE_DEPLOY

    dependencies = [("testapp", "0003_remove_book_isbn")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="note",
            field=models.TextField(null=True),
        ),
    ]
