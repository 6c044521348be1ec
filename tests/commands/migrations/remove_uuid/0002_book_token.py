import uuid

from django.db import migrations, models


class Migration(migrations.Migration):
    """Previous release: Book.token, a unique UUID with default=uuid.uuid4."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="token",
            field=models.UUIDField(default=uuid.uuid4, unique=True),
        ),
    ]
