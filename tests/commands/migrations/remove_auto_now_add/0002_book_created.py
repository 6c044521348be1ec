from django.db import migrations, models


class Migration(migrations.Migration):
    """Previous release: Book.created, auto_now_add."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="created",
            field=models.DateTimeField(auto_now_add=True),
        ),
    ]
