from django.db import migrations, models


class Migration(migrations.Migration):
    """Book.summary as a CharField (inferred pre-deploy); models.py has a TextField."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="book",
            name="summary",
            field=models.CharField(max_length=200, null=True),
        ),
    ]
