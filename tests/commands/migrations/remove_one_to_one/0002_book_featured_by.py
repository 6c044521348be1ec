import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Previous release: Book.featured_by, a NOT NULL one-to-one link to Author."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="featured_by",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="featured_book",
                to="testapp.author",
            ),
        ),
    ]
