from django.db import migrations, models

from green_makemigrations.constants import Stage


class Migration(migrations.Migration):
    """Release N+1: the slug column, with a database default for release N's inserts."""

    dependencies = [("shop", "0001_initial")]
    operations = [
        migrations.AddField("item", "slug", models.CharField(max_length=50, db_default="")),
    ]
    stage = Stage.PRE_DEPLOY
