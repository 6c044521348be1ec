from django.db import migrations


class Migration(migrations.Migration):
    """Previous release: Part is not ordered within its gadget (no _order column)."""

    dependencies = [("green_add", "0001_initial")]

    operations = [
        migrations.AlterOrderWithRespectTo(name="part", order_with_respect_to=None),
    ]
