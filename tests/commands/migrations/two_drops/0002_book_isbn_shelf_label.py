from django.db import migrations, models


class Migration(migrations.Migration):
    """Previous release: nullable Book.isbn and Shelf.label, both removed since."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="isbn",
            field=models.CharField(max_length=13, null=True),
        ),
        migrations.AddField(
            model_name="shelf",
            name="label",
            field=models.CharField(max_length=50, null=True),
        ),
    ]
