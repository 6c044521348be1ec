"""Release 1 of the shop: Product has two fields that release 2 removes."""

from django.db import models


class Product(models.Model):
    name = models.CharField(max_length=100)
    # Removed in release 2. NOT NULL without a default: once release 2 runs,
    # its inserts omit the column, so the database must accept that.
    legacy_code = models.CharField(max_length=20)
    # Removed in release 2. Has a default, but only in Python.
    price_cents = models.IntegerField(default=0)

    def as_json(self) -> dict:
        return {
            "id": self.pk,
            "name": self.name,
            "legacy_code": self.legacy_code,
            "price_cents": self.price_cents,
        }
