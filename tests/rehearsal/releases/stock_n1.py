"""Release N+1 of the control rehearsal: the NOT NULL field is removed.

Copied as ``shop/models.py``; never imported by pytest.
"""

from django.db import models


class Ticket(models.Model):
    title = models.CharField(max_length=40)
