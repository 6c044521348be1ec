from decimal import Decimal

from django.db import migrations, models


class Migration(migrations.Migration):
    """Previous release: Book.price, with a default, in a check constraint."""

    dependencies = [("testapp", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="book",
            name="price",
            field=models.DecimalField(decimal_places=2, default=Decimal("0"), max_digits=6),
        ),
        migrations.AddConstraint(
            model_name="book",
            constraint=models.CheckConstraint(
                condition=models.Q(price__gte=0), name="testapp_book_price_gte_0"
            ),
        ),
    ]
