from django.db import migrations


class Migration(migrations.Migration):
    """Forget Book.isbn in the state only: the column stays, nothing is dropped.

    No stage written: inferred pre-deploy.
    """

    dependencies = [("testapp", "0002_book_isbn")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveField(model_name="book", name="isbn")],
        ),
    ]
