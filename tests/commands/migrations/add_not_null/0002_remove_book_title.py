from django.db import migrations


class Migration(migrations.Migration):
    """Previous release: Book without title, which the new release adds (NOT NULL, no default)."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.RemoveField(model_name="book", name="title"),
    ]
