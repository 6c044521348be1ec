from django.db import migrations


class Migration(migrations.Migration):
    """Remove Book.summary (no stage written: inferred post-deploy)."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.RemoveField(model_name="book", name="summary"),
    ]
