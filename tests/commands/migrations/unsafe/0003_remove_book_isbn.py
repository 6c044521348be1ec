from django.db import migrations

from green_makemigrations.constants import Stage


class Migration(migrations.Migration):
    """A drop wrongly written as pre-deploy (green_makemigrations.E004)."""

    stage = Stage.PRE_DEPLOY

    dependencies = [("testapp", "0002_book_isbn")]

    operations = [
        migrations.RemoveField(model_name="book", name="isbn"),
    ]
