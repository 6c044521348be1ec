"""Deploy rehearsal on two databases of different backends, each stage run per database.

The project has two databases: "default" on the backend of ``--ds``, and
"other" on the backend of the test settings' "other" alias (MariaDB beside
PostgreSQL, so the two server backends meet once; SQLite beside MariaDB, and
a second SQLite file beside SQLite). A router keeps Order on default and
Entry on other, both in one app, so every migration of release N+1 holds an
operation for each database. Release N+1 removes a NOT NULL field and adds
one with a default on each model. The deploy runs ``migrate --stage
pre-deploy --database default`` then ``--database other`` under release N,
release N+1 starts beside it, then the post-deploy stage runs on each
database under release N+1: no query of either release fails, and each
database holds its own model's table only, as the proof of each said.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .harness import (
    APP_LABEL,
    Project,
    Schema,
    app_tables,
    assert_no_failures,
    assert_phases,
    rolling_deploy,
)

pytestmark = pytest.mark.rehearsal

DATABASES = ("default", "other")
ROUTER = '''

ROUTES = {"entry": "other"}


class ModelRouter:
    """Entry on "other", every other model on "default"."""

    def db_for_read(self, model, **hints):
        return ROUTES.get(model._meta.model_name, "default")

    db_for_write = db_for_read

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == ROUTES.get(model_name, "default")


DATABASE_ROUTERS = [ModelRouter()]
'''
RELEASE_N = """\
from django.db import models


class Order(models.Model):
    ref = models.CharField(max_length=20)
    legacy = models.CharField(max_length=20)


class Entry(models.Model):
    amount = models.IntegerField()
    memo = models.CharField(max_length=20)
"""
RELEASE_N1 = """\
from django.db import models


class Order(models.Model):
    ref = models.CharField(max_length=20)
    status = models.CharField(max_length=10, default="new")


class Entry(models.Model):
    amount = models.IntegerField()
    currency = models.CharField(max_length=3, default="EUR")
"""
# Each database's tables (column -> nullable) after pre-deploy and at the end.
PREPARED = {
    "default": {
        "shop_order": {"id": False, "ref": False, "legacy": True, "status": False},
    },
    "other": {
        "shop_entry": {"id": False, "amount": False, "memo": True, "currency": False},
    },
}
FINAL = {
    "default": {"shop_order": {"id": False, "ref": False, "status": False}},
    "other": {"shop_entry": {"id": False, "amount": False, "currency": False}},
}


def test_two_databases_deploy_stage_by_stage_without_failed_queries(
    rehearsal_database: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    default = rehearsal_database("multidb")
    other = rehearsal_database("multidb_other", alias="other")
    n = Project.create(
        tmp_path / "release_n", default, RELEASE_N, others={"other": other}, settings=ROUTER
    )
    n.manage("makemigrations", APP_LABEL)
    for alias in DATABASES:
        n.manage("migrate", "--database", alias)
    n1 = n.copy(tmp_path / "release_n1", RELEASE_N1)
    n1.manage("makemigrations", "--noinput")
    new = n1.migration_names()[len(n.migration_names()) :]
    # One pre-deploy migration and one post-deploy, each with both models' operations.
    assert [n1.migration_names_of_stage(stage) for stage in ("PRE_DEPLOY", "POST_DEPLOY")] == [
        ["0001_initial", *new[:1]],
        new[1:],
    ]
    for name in new:
        text = n1.migration_text(name)
        assert "model_name='order'" in text and "model_name='entry'" in text, text

    def prepared_elsewhere() -> Schema:
        return n1.schema("other")

    deploy = rolling_deploy(n, n1, between=prepared_elsewhere, databases=DATABASES)
    # Each database's proof judged its own model only, and found nothing.
    for alias, verdict in deploy.verdict["databases"].items():
        assert verdict["database"] == alias and verdict["proven"], verdict
    assert_no_failures(deploy.old, deploy.new)
    assert_phases(deploy.old, ["baseline", "pre-deploy", "both"], {"Order", "Entry"})
    assert_phases(deploy.new, ["both", "post-deploy"], {"Order", "Entry"})
    assert app_tables(deploy.prepared) == PREPARED["default"]
    assert app_tables(deploy.between) == PREPARED["other"]
    for alias in DATABASES:
        final = n1.schema(alias)
        assert app_tables(final) == FINAL[alias]
        # Every migration is recorded on each database, as Django records them.
        assert final.applied_names() == n1.migration_names()
