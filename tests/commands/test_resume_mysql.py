"""A post-deploy migration that failed half-way on MariaDB is completed by a re-run.

MariaDB and MySQL cannot roll DDL back: when the second DROP of a migration
fails, the first one stays done while the migration is not recorded. Django's
executor then fails on every re-run (the first DROP finds no column);
green_makemigrations' executor skips what is already done. On PostgreSQL and
SQLite the failed migration rolls back whole, so this is MariaDB's test only.
"""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError
from django.db import OperationalError, connection
from django.db.migrations.executor import MigrationExecutor

from .utils import APP_LABEL, applied, columns, execute, migration_module, run

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "mysql",
        reason="Only MariaDB/MySQL leave a migration half-applied (no transactional DDL).",
    ),
]

PREVIOUS = {"0001_initial", "0002_book_isbn_shelf_label"}


def test_rerun_completes_a_half_applied_post_deploy_migration(empty_testapp: None) -> None:
    with migration_module("initial", "two_drops") as module:
        run("migrate", APP_LABEL, verbosity=0)
        run("makemigrations", APP_LABEL, interactive=False, verbosity=0)
        [drop] = [name for name in module.files() if name not in PREVIOUS]
        text = module.read(drop)
        # The premise: one post-deploy migration, Book's drop before Shelf's.
        assert "    stage = Stage.POST_DEPLOY\n" in text
        assert text.index("name='isbn'") < text.index("name='label'")
        run("migrate", APP_LABEL, stage="pre-deploy", verbosity=0)
        assert applied() == PREVIOUS

        # Another session reads green_cmd_shelf in an open transaction: its
        # metadata lock makes the second ALTER TABLE wait, and give up after
        # lock_wait_timeout, once the first one is done.
        other = connection.copy()
        try:
            with other.cursor() as cursor:
                cursor.execute("START TRANSACTION")
                cursor.execute("SELECT * FROM green_cmd_shelf")
            execute("SET SESSION lock_wait_timeout = 1")
            with pytest.raises(CommandError, match="Lock wait timeout exceeded"):
                run("migrate", APP_LABEL, stage="post-deploy", lock_retries=0, verbosity=0)
        finally:
            other.close()
            execute("SET SESSION lock_wait_timeout = DEFAULT")
        assert "isbn" not in columns("testapp_book")
        assert "label" in columns("green_cmd_shelf")
        assert applied() == PREVIOUS

        # Django's executor cannot finish it: it drops Book.isbn again.
        with pytest.raises(OperationalError, match="isbn"):
            MigrationExecutor(connection).migrate([(APP_LABEL, drop)])
        assert "label" in columns("green_cmd_shelf")
        assert applied() == PREVIOUS

        # The post-deploy stage, run again, completes and records it.
        output = run("migrate", APP_LABEL, stage="post-deploy")
        assert f"Applying testapp.{drop}... OK" in output.stdout
        assert applied() == {*PREVIOUS, drop}
        assert "label" not in columns("green_cmd_shelf")
        assert "No changes detected" in run("makemigrations", APP_LABEL, check_changes=True).stdout
