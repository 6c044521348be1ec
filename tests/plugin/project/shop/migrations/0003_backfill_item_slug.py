from django.db import migrations
from django.utils.text import slugify

from green_makemigrations.constants import Stage


def backfill(apps, schema_editor):
    Item = apps.get_model("shop", "Item")
    for item in Item.objects.filter(slug=""):
        item.slug = slugify(item.name)
        item.save(update_fields=["slug"])


class Migration(migrations.Migration):
    """Release N+1: slugs for the items written without one.

    Post-deploy: release N writes items without a slug until it is gone.
    """

    dependencies = [("shop", "0002_item_slug")]
    operations = [
        # Rows only: the proof that migrate --stage pre-deploy runs first reads
        # the schema from the migrations, and cannot read it from Python.
        migrations.RunPython(backfill, migrations.RunPython.noop, hints={"schema_effect": []}),
    ]
    stage = Stage.POST_DEPLOY
