from django.db import migrations, models


class Migration(migrations.Migration):
    """Add a nullable Book.isbn (inferred pre-deploy), after contenttypes' drop (post-deploy)."""

    dependencies = [
        ("testapp", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AddField(
            model_name="book",
            name="isbn",
            field=models.CharField(max_length=13, null=True),
        ),
    ]
