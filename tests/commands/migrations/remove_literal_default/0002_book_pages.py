from django.db import migrations, models


class Migration(migrations.Migration):
    """Previous release: Book.pages, NOT NULL with a literal default."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="pages",
            field=models.IntegerField(default=7),
        ),
    ]
