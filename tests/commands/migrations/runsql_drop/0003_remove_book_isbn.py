from django.db import migrations


class Migration(migrations.Migration):
    """Drop Book.isbn with raw SQL: inferred pre-deploy, with a warning (W001)."""

    dependencies = [("testapp", "0002_book_isbn")]

    operations = [
        migrations.RunSQL(
            [("/* no longer read */ ALTER TABLE testapp_book DROP COLUMN isbn", None)],
            state_operations=[migrations.RemoveField(model_name="book", name="isbn")],
        ),
    ]
