import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """Previous release: Book.editor, a NOT NULL foreign key to Author."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="editor",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE, to="testapp.author"
            ),
        ),
    ]
