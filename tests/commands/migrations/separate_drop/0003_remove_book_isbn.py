from django.db import migrations

from green_makemigrations.constants import Stage


class Migration(migrations.Migration):
    """A drop the rules must see: in a (nested) SeparateDatabaseAndState's database side.

    Written pre-deploy, so both stages refuse it (green_makemigrations.E004).
    """

    stage = Stage.PRE_DEPLOY

    dependencies = [("testapp", "0002_book_isbn")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.SeparateDatabaseAndState(
                    database_operations=[migrations.RemoveField(model_name="book", name="isbn")],
                ),
            ],
            state_operations=[migrations.RemoveField(model_name="book", name="isbn")],
        ),
    ]
