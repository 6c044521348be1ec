from django.db import migrations, models


class Migration(migrations.Migration):
    """Previous release: Book.edition, part of unique_together (title, edition)."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="edition",
            field=models.PositiveIntegerField(default=1),
        ),
        migrations.AlterUniqueTogether(
            name="book",
            unique_together={("title", "edition")},
        ),
    ]
