"""Release N of the multi-PR and rollback rehearsals.

Every removal here can be rolled back with the data kept (nullable fields,
database defaults, a many-to-many, a deleted model behind a nullable foreign
key). Copied as ``shop/models.py``; never imported by pytest.
"""

from django.db import models


class Label(models.Model):
    name = models.CharField(max_length=40)


class Archive(models.Model):
    """Deleted by the first pull request of release N+1."""

    label = models.ForeignKey(Label, models.CASCADE, related_name="archives")
    title = models.CharField(max_length=40)


class Article(models.Model):
    title = models.CharField(max_length=40)
    status = models.CharField(max_length=40, default="draft")
    published = models.DateTimeField(auto_now_add=True)
    note = models.CharField(max_length=40, null=True)
    labels = models.ManyToManyField(Label, related_name="articles")
    archive = models.ForeignKey(Archive, models.SET_NULL, null=True, related_name="articles")
