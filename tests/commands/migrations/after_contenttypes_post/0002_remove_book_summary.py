from django.db import migrations


class Migration(migrations.Migration):
    """Remove Book.summary (inferred post-deploy), after contenttypes' drop (post-deploy)."""

    dependencies = [
        ("testapp", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RemoveField(model_name="book", name="summary"),
    ]
