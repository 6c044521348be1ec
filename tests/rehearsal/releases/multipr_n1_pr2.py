"""Release N+1, second pull request (same release): Article gains a nullable field.

Copied as ``shop/models.py`` over the first pull request's; never imported by
pytest.
"""

from django.db import models


class Label(models.Model):
    name = models.CharField(max_length=40)


class Article(models.Model):
    title = models.CharField(max_length=40)
    summary = models.CharField(max_length=40, null=True)
