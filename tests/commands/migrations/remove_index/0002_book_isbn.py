from django.db import migrations, models


class Migration(migrations.Migration):
    """Previous release: Book.isbn, NOT NULL without default, in an index."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="isbn",
            field=models.CharField(max_length=13),
        ),
        migrations.AddIndex(
            model_name="book",
            index=models.Index(fields=["isbn"], name="testapp_book_isbn_idx"),
        ),
    ]
