from django.db import migrations


class Migration(migrations.Migration):
    """Remove Book.isbn (no stage written: inferred post-deploy)."""

    dependencies = [("testapp", "0002_book_isbn")]

    operations = [
        migrations.RemoveField(model_name="book", name="isbn"),
    ]
