from django.db import migrations

from green_makemigrations.constants import Stage


class Migration(migrations.Migration):
    """Pull request 1 of release N+1: drop Book.subtitle."""

    stage = Stage.POST_DEPLOY

    dependencies = [("testapp", "0002_prepare_remove_book_subtitle")]

    operations = [
        migrations.RemoveField(model_name="book", name="subtitle"),
    ]
