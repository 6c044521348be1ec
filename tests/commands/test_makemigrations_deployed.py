"""makemigrations knows which post-deploy leaves are deployed from the database it consults.

The history (tests/commands/migrations/unstaged_drop) ends with a drop as
plain Django writes it, a third-party app's say: no stage written, so
inferred post-deploy. The models add Book.summary, a pre-deploy change. If
the database has the drop applied, the new migration simply follows it; if
not, it is placed beside it and a post-deploy merge joins them; if the
database cannot tell (unreachable, no django_migrations table), the user is
asked, and --noinput takes the zero-downtime answer (beside it).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

import pytest
from django.core.management.base import CommandError
from django.db import connection

from green_makemigrations.constants import Stage

from .test_migrate_stages import left_for_post_deploy
from .utils import APP_LABEL, MigrationModule, applied, columns, execute, migration_module, run

pytestmark = pytest.mark.django_db(transaction=True)

DROP = "0002_remove_book_subtitle"
ADDED = "0003_book_summary"
MERGE = "0004_post_deploy_merge"
QUESTION = f"The latest migration of 'testapp', {DROP}, is post-deploy."


@contextmanager
def answering(*answers: str) -> Iterator[list[str]]:
    """Type answers at the prompts, in order; yield the list of prompts read (one per answer).

    A question beyond the answers fails the test.
    """
    asked: list[str] = []
    remaining = list(answers)

    def answer(prompt: str = "") -> str:
        asked.append(prompt)
        assert remaining, "an unexpected question"
        return remaining.pop(0)

    with mock.patch("builtins.input", answer):
        yield asked


@contextmanager
def unreachable_database() -> Iterator[None]:
    """Point the default connection at a database that cannot be reached, for the block."""
    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = "/nonexistent-directory/green.sqlite3"
    else:
        connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
    try:
        with warnings.catch_warnings():
            # makemigrations' own consistency check says it could not connect.
            warnings.filterwarnings("ignore", "Got an error checking a consistent", RuntimeWarning)
            yield
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)


@contextmanager
def no_migrations_table() -> Iterator[None]:
    """Hide the django_migrations table for the block (a database never migrated)."""
    quote = connection.ops.quote_name
    execute(f"ALTER TABLE {quote('django_migrations')} RENAME TO {quote('green_saved_migrations')}")
    try:
        yield
    finally:
        execute(
            f"ALTER TABLE {quote('green_saved_migrations')} RENAME TO {quote('django_migrations')}"
        )


def dependencies(module: MigrationModule, name: str) -> list[tuple[str, str]]:
    return [tuple(dependency) for dependency in module.load(name).Migration.dependencies]


def check_follows(module: MigrationModule) -> None:
    """Assert the new migration follows the drop: no branch, no merge."""
    assert module.files() == ["0001_initial", DROP, ADDED]
    migration = module.load(ADDED).Migration
    assert migration.stage is Stage.PRE_DEPLOY
    assert dependencies(module, ADDED) == [(APP_LABEL, DROP)]


def check_beside(module: MigrationModule) -> None:
    """Assert the new migration is beside the drop, joined by a post-deploy merge."""
    assert module.files() == ["0001_initial", DROP, ADDED, MERGE]
    assert dependencies(module, ADDED) == [(APP_LABEL, "0001_initial")]
    merge = module.load(MERGE).Migration
    assert merge.stage is Stage.POST_DEPLOY
    assert set(dependencies(module, MERGE)) == {(APP_LABEL, ADDED), (APP_LABEL, DROP)}


def test_applied_leaf_is_followed(empty_testapp: None) -> None:
    with migration_module("unstaged_drop") as module:
        run("migrate", APP_LABEL, verbosity=0)
        # Interactive: the database tells, so nothing is asked.
        with answering() as asked:
            output = run("makemigrations", APP_LABEL, interactive=True)
        assert asked == [] and QUESTION not in output.stdout
        assert (
            f"testapp.{ADDED} follows post-deploy migration testapp.{DROP}: the database has "
            "it applied." in output.stdout
        )
        check_follows(module)

        output = run("migrate", APP_LABEL, stage="pre-deploy")
        assert applied() == {"0001_initial", DROP, ADDED}
        assert "Left for the post-deploy stage" not in output.stdout
        assert "summary" in columns("testapp_book")
        assert "No migrations to apply." in run("migrate", stage="post-deploy").stdout
        # Backwards and forwards again.
        run("migrate", APP_LABEL, DROP, stage="pre-deploy", verbosity=0)
        run("migrate", APP_LABEL, DROP, stage="post-deploy", verbosity=0)
        assert applied() == {"0001_initial", DROP}
        assert "summary" not in columns("testapp_book")
        run("migrate", APP_LABEL, verbosity=0)
        assert "No changes detected" in run("makemigrations", APP_LABEL, check_changes=True).stdout


@pytest.mark.parametrize("interactive", [False, True])
def test_pending_leaf_gets_a_branch_and_a_merge(empty_testapp: None, interactive: bool) -> None:
    with migration_module("unstaged_drop") as module:
        run("migrate", APP_LABEL, "0001_initial", verbosity=0)
        with answering() as asked:
            output = run("makemigrations", APP_LABEL, interactive=interactive)
        assert asked == [] and QUESTION not in output.stdout
        check_beside(module)

        # The pending drop has no pre-deploy prep (the fixture's 0002 is
        # unstaged, as third-party histories are): the new release's inserts
        # would fail during the rollout, which the proof reports.
        with pytest.raises(CommandError, match="column subtitle of testapp_book is NOT NULL"):
            run("migrate", APP_LABEL, stage="pre-deploy")
        output = run("migrate", APP_LABEL, stage="pre-deploy", skip_verify=True)
        assert applied() == {"0001_initial", ADDED}
        assert left_for_post_deploy(output.stdout) == [f"testapp.{DROP}", f"testapp.{MERGE}"]
        run("migrate", APP_LABEL, stage="post-deploy", verbosity=0)
        assert applied() == {"0001_initial", DROP, ADDED, MERGE}
        assert set(columns("testapp_book")) == {"id", "title", "summary"}
        # The rollback, through both stages. Un-applying the unstaged drop adds
        # subtitle back NOT NULL without a default while the release without it
        # runs: the proof of the rollback says its inserts would fail.
        with pytest.raises(CommandError, match="Rolling back on database 'default'"):
            run("migrate", APP_LABEL, "0001_initial", stage="pre-deploy", verbosity=0)
        run("migrate", APP_LABEL, "0001_initial", stage="pre-deploy", verbosity=0, skip_verify=True)
        run("migrate", APP_LABEL, "0001_initial", stage="post-deploy", verbosity=0)
        assert applied() == {"0001_initial"}
        assert set(columns("testapp_book")) == {"id", "title", "subtitle"}


@pytest.mark.parametrize("cannot_tell", [unreachable_database, no_migrations_table])
@pytest.mark.parametrize("answer", [None, "", "y", "n"])
def test_database_cannot_tell(empty_testapp: None, cannot_tell: Any, answer: str | None) -> None:
    with migration_module("unstaged_drop") as module:
        # Applied, but makemigrations cannot see it.
        run("migrate", APP_LABEL, verbosity=0)
        with cannot_tell():
            if answer is None:  # --noinput: the zero-downtime answer
                output = run("makemigrations", APP_LABEL, interactive=False)
            else:
                with answering(answer) as asked:
                    output = run("makemigrations", APP_LABEL, interactive=True)
                assert len(asked) == 1
                assert QUESTION in output.stdout
        if answer == "y":
            check_follows(module)
        else:
            check_beside(module)
        # The files apply, forwards and backwards (to before the new branch).
        run("migrate", APP_LABEL, verbosity=0)
        assert "summary" in columns("testapp_book")
        run("migrate", APP_LABEL, DROP if answer == "y" else "0001_initial", verbosity=0)
        assert "summary" not in columns("testapp_book")
        run("migrate", APP_LABEL, verbosity=0)
        assert set(columns("testapp_book")) == {"id", "title", "summary"}
