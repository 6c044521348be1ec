"""Release 2 of the shop: legacy_code and price_cents are gone."""

from django.db import models


class Product(models.Model):
    name = models.CharField(max_length=100)

    def as_json(self) -> dict:
        return {"id": self.pk, "name": self.name}
