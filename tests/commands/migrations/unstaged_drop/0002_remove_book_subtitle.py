from django.db import migrations


class Migration(migrations.Migration):
    """Drop Book.subtitle, as plain Django writes it (no stage: inferred post-deploy)."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.RemoveField(model_name="book", name="subtitle"),
    ]
