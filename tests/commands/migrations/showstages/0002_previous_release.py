from django.db import migrations, models


class Migration(migrations.Migration):
    """Previous release: a db_column field, a many-to-many, a field of a custom db_table."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="legacy",
            field=models.CharField(db_column="legacy_code", default="legacy", max_length=20),
        ),
        migrations.AddField(
            model_name="book",
            name="tags",
            field=models.ManyToManyField(to="testapp.tag"),
        ),
        migrations.AddField(
            model_name="shelf",
            name="label",
            field=models.CharField(max_length=50, null=True),
        ),
    ]
