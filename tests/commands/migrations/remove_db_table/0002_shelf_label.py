from django.db import migrations, models


class Migration(migrations.Migration):
    """Previous release: Shelf.label (table green_cmd_shelf), NOT NULL, no default."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="shelf",
            name="label",
            field=models.CharField(max_length=50),
        ),
    ]
