from django.db import migrations


class Migration(migrations.Migration):
    """Rename Book.isbn's column by hand: inferred pre-deploy, with a warning (W002)."""

    dependencies = [("testapp", "0002_book_isbn")]

    operations = [
        migrations.RenameField(model_name="book", old_name="isbn", new_name="number"),
    ]
