"""Release N+1, first pull request: Article loses fields, Archive is deleted.

Copied as ``shop/models.py``; never imported by pytest.
"""

from django.db import models


class Label(models.Model):
    name = models.CharField(max_length=40)


class Article(models.Model):
    title = models.CharField(max_length=40)
