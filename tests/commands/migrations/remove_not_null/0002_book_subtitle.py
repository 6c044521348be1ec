from django.db import migrations, models


class Migration(migrations.Migration):
    """Previous release: Book.subtitle, NOT NULL, no default."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="subtitle",
            field=models.CharField(max_length=100),
        ),
    ]
