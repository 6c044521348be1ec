from django.db import migrations


class Migration(migrations.Migration):
    """Previous release: Widget without serial, which the new release adds."""

    dependencies = [("green_add", "0001_initial")]

    operations = [
        migrations.RemoveField(model_name="widget", name="serial"),
    ]
