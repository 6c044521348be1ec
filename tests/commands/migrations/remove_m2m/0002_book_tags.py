from django.db import migrations, models


class Migration(migrations.Migration):
    """Previous release: Book.tags, many-to-many to Tag."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="tags",
            field=models.ManyToManyField(to="testapp.tag"),
        ),
    ]
