"""Added NOT NULL fields end to end: a database default while the previous release runs.

The additions app (tests/commands/additions_app/) is the new release; the
fixture history tests/commands/migrations/additions/ is the previous one, in
which Gadget has only a name. makemigrations writes a pre-deploy migration
that adds the new columns with database defaults (so the previous release's
inserts, which omit them, keep working) and a post-deploy migration that
drops the defaults the model does not declare. The test deploys the previous
release, runs both stages with inserts of both releases in between, and
rolls back through both stages.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.apps import apps
from django.apps.registry import Apps
from django.conf import settings
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.test.utils import override_settings
from django.utils import timezone

from green_makemigrations.constants import Stage

from .utils import MigrationModule, columns, execute, migration_module, run, select, tables

pytestmark = pytest.mark.django_db(transaction=True)

APP = "green_add"
TABLE = "green_add_gadget"
INITIAL = "0001_initial"
# Columns of the added NOT NULL fields -> the database default the pre-deploy
# stage gives them (as text in the migration file).
PREPARED = {
    "quantity": "db_default=7",
    "status": "db_default='p'",
    "created": "db_default=django.db.models.functions.datetime.Now()",
    "touched": "db_default=django.db.models.functions.datetime.Now()",
    "token": "db_default=green_makemigrations.expressions.RandomUUID()",
    "note": "db_default=''",
    "maker_id": "db_default=1",
}
INITIAL_COLUMNS = {"id", "name"}
ADDED_COLUMNS = {*PREPARED, "remark"}


def drop_schema() -> None:
    """Drop the additions app's tables and forget its applied migrations."""
    quote = connection.ops.quote_name
    cascade = " CASCADE" if connection.vendor == "postgresql" else ""
    with connection.constraint_checks_disabled(), connection.cursor() as cursor:
        for table in sorted(t for t in tables() if t.startswith(f"{APP}_")):
            cursor.execute(f"DROP TABLE IF EXISTS {quote(table)}{cascade}")
    MigrationRecorder(connection).migration_qs.filter(app=APP).delete()


@pytest.fixture
def additions_app(transactional_db: None) -> Iterator[None]:
    """Install the additions app, without tables or applied migrations."""
    with override_settings(
        INSTALLED_APPS=[*settings.INSTALLED_APPS, "tests.commands.additions_app"]
    ):
        drop_schema()
        yield
        drop_schema()


def applied() -> set[str]:
    recorder = MigrationRecorder(connection)
    return {name for app_label, name in recorder.applied_migrations() if app_label == APP}


def previous_release(last_migration: str = INITIAL) -> Apps:
    """Return the models of the previous release (Gadget with only its name)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return loader.project_state((APP, last_migration), at_end=True).apps


def old_insert(old_apps: Apps, name: str) -> None:
    """Insert a Gadget as the previous release does: without the new columns."""
    old_apps.get_model(APP, "Gadget").objects.create(name=name)


def full_values() -> dict[str, Any]:
    """Return a value for every column of Gadget but the nullable remark."""
    now = timezone.now()
    return {
        "name": "raw",
        "quantity": 1,
        "status": "d",
        "created": now,
        "touched": now,
        "token": uuid.uuid4(),
        "note": "n",
        "maker_id": 1,
    }


def raw_insert(values: dict[str, Any]) -> None:
    """INSERT a Gadget row with exactly these columns (by attname), in SQL."""
    model = apps.get_model(APP, "Gadget")
    fields = [model._meta.get_field(attname) for attname in values]
    names = ", ".join(connection.ops.quote_name(str(field.column)) for field in fields)
    params = tuple(
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, values.values(), strict=True)
    )
    placeholders = ", ".join(["%s"] * len(params))
    execute(f"INSERT INTO {TABLE} ({names}) VALUES ({placeholders})", params)


def rows(*names: str) -> dict[str, Any]:
    """Return the Gadgets with these names, read with the new release's model."""
    model = apps.get_model(APP, "Gadget")
    return {gadget.name: gadget for gadget in model.objects.filter(name__in=names)}


def database_defaults() -> dict[str, str | None]:
    """Return column -> introspected database default of the Gadget table."""
    defaults = {}
    for name, info in columns(TABLE).items():
        default = info.default
        # MariaDB reports a nullable column without default as the text NULL.
        if connection.vendor == "mysql" and default == "NULL":
            default = None
        defaults[name] = None if default is None else str(default)
    return defaults


def strict_inserts() -> bool:
    """Return whether an INSERT omitting a NOT NULL column without default fails.

    Always on SQLite and PostgreSQL; on MariaDB/MySQL only in strict mode
    (else the column's implicit default is stored, with a warning).
    """
    if connection.vendor != "mysql":
        return True
    (mode,) = select("SELECT @@SESSION.sql_mode")[0]
    return "STRICT_TRANS_TABLES" in mode or "STRICT_ALL_TABLES" in mode


def new_migrations(module: MigrationModule) -> tuple[str, str, str]:
    """Return the migrations makemigrations wrote: pre-deploy, its foreign key, post-deploy.

    The foreign key is validated outside a transaction on PostgreSQL: it has
    a (non-atomic) migration of its own.
    """
    new = [name for name in module.files() if name != INITIAL]
    assert len(new) == 3, new
    stages = [module.load(name).Migration.stage for name in new]
    assert stages == [Stage.PRE_DEPLOY, Stage.PRE_DEPLOY, Stage.POST_DEPLOY], new
    assert [module.load(name).Migration.atomic for name in new] == [True, False, True], new
    return new[0], new[1], new[2]


def assert_filled_by_the_database(
    gadget: Any, started: datetime.datetime, ended: datetime.datetime
) -> None:
    """Assert a row inserted without the new columns holds their database defaults."""
    assert gadget.quantity == 7
    assert gadget.status == "p"
    assert gadget.note == ""
    assert gadget.maker_id == 1
    assert gadget.remark is None
    assert isinstance(gadget.token, uuid.UUID)
    # SQLite's CURRENT_TIMESTAMP has whole seconds; allow clock rounding.
    slack = datetime.timedelta(seconds=2)
    for stamp in (gadget.created, gadget.touched):
        assert started - slack <= stamp <= ended + slack, (stamp, started, ended)


def test_added_fields_through_both_stages(additions_app: None) -> None:
    with migration_module("additions", app_label=APP) as module:
        run("migrate", APP, verbosity=0)
        execute("INSERT INTO green_add_maker (id, name) VALUES (1, 'first'), (2, 'second')")
        old_apps = previous_release()
        old_insert(old_apps, "old-1")
        old_insert(old_apps, "old-2")

        # makemigrations: the columns with database defaults, then their drop.
        run("makemigrations", APP, interactive=False, verbosity=0)
        added, pre, post = new_migrations(module)
        pre_text, post_text = module.read(added) + module.read(pre), module.read(post)
        # maker's foreign key is validated, and token's unique index built,
        # without a long lock on PostgreSQL: outside the transaction of the rest.
        assert module.read(added).count("migrations.AddField(") == len(ADDED_COLUMNS) - 2
        assert "migrations.AddField(" not in module.read(pre)
        assert module.read(pre).count("foreign_keys.AddForeignKeyNotValid(") == 1
        assert module.read(pre).count("operations.AddFieldIndexConcurrently(\n") == 1
        for column, db_default in PREPARED.items():
            assert db_default in pre_text, column
        assert "db_default" not in post_text
        assert post_text.count("migrations.AlterField(") == len(PREPARED)
        assert "name='remark'" not in post_text  # nullable: nothing to drop
        assert f"dependencies = [\n        ('{APP}', '{pre}'),\n    ]" in post_text

        # Pre-deploy: the columns come with database defaults; the rows the
        # previous release wrote get them, one UUID each.
        started = timezone.now()
        output = run("migrate", APP, stage="pre-deploy")
        ended = timezone.now()
        assert applied() == {INITIAL, added, pre}
        assert f"Left for the post-deploy stage:\n  {APP}.{post}" in output.stdout
        assert set(columns(TABLE)) == INITIAL_COLUMNS | ADDED_COLUMNS
        defaults = database_defaults()
        assert {c for c in ADDED_COLUMNS if defaults[c] is not None} == set(PREPARED)
        existing = rows("old-1", "old-2")
        for gadget in existing.values():
            assert_filled_by_the_database(gadget, started, ended)

        # Both releases run: the previous one inserts without the columns...
        started = timezone.now()
        old_insert(old_apps, "old-3")
        old_insert(old_apps, "old-4")
        raw_insert({"name": "old-5"})
        ended = timezone.now()
        written = rows("old-3", "old-4", "old-5")
        for gadget in written.values():
            assert_filled_by_the_database(gadget, started, ended)
        tokens = [g.token for g in [*existing.values(), *written.values()]]
        assert len(set(tokens)) == 5, tokens
        # ...the new one writes them, with its Python defaults or values.
        gadget_model = apps.get_model(APP, "Gadget")
        new = gadget_model.objects.create(name="new", quantity=3, maker_id=2, note="x")
        new.refresh_from_db()
        assert (new.quantity, new.status, new.maker_id, new.note) == (3, "p", 2, "x")
        assert new.token not in tokens

        # Post-deploy: the database defaults are gone, the columns stay.
        run("migrate", APP, stage="post-deploy")
        assert applied() == {INITIAL, added, pre, post}
        assert set(columns(TABLE)) == INITIAL_COLUMNS | ADDED_COLUMNS
        assert {c: d for c, d in database_defaults().items() if d is not None} == {}
        assert gadget_model.objects.count() == 6
        raw_insert(full_values())  # every column given: accepted
        if strict_inserts():
            for column in PREPARED:
                values = full_values()
                del values[column]
                with pytest.raises(DatabaseError), transaction.atomic():
                    raw_insert(values)
        gadget_model.objects.create(name="new-2")
        again = run("migrate", APP, stage="post-deploy")
        assert "No migrations to apply." in again.stdout
        check = run("makemigrations", APP, check_changes=True)
        assert f"No changes detected in app '{APP}'" in check.stdout

        # Rollback: its pre-deploy stage brings the database defaults back (the
        # previous release can insert again), its post-deploy stage drops the
        # columns.
        run("migrate", APP, INITIAL, stage="pre-deploy")
        assert applied() == {INITIAL, added, pre}
        assert {c for c, d in database_defaults().items() if d is not None} == set(PREPARED)
        started = timezone.now()
        old_insert(old_apps, "old-6")
        gadget_model.objects.create(name="new-3")
        assert_filled_by_the_database(rows("old-6")["old-6"], started, timezone.now())
        run("migrate", APP, INITIAL, stage="post-deploy")
        assert applied() == {INITIAL}
        assert set(columns(TABLE)) == INITIAL_COLUMNS
        old_insert(old_apps, "old-7")
        assert select(f"SELECT COUNT(*) FROM {TABLE}") == [(11,)]


def test_added_field_with_a_default_the_database_cannot_compute_is_refused(
    additions_app: None,
) -> None:
    with migration_module("additions", "addition_refused", app_label=APP) as module:
        with pytest.raises(CommandError) as error:
            run("makemigrations", APP, interactive=False)
        message = str(error.value)
        assert f"Adding {APP}.widget.serial" in message
        assert "make_serial" in message and "cannot be computed by the database" in message
        assert "null=True" in message
        assert module.files() == [INITIAL, "0002_remove_widget_serial"]


def test_order_with_respect_to_added_is_refused(additions_app: None) -> None:
    """_order would be NOT NULL without a database default: refused, nothing written."""
    with migration_module("additions", "order_wrt_added", app_label=APP) as module:
        run("migrate", APP, verbosity=0)
        before = module.files()
        with pytest.raises(CommandError) as refusal:
            run("makemigrations", APP, interactive=False, verbosity=0)
        message = str(refusal.value)
        assert f"Setting order_with_respect_to='gadget' on {APP}.Part" in message, message
        assert "_order" in message and "--stock" in message
        assert module.files() == before
        # Stock Django's migration is what breaks the running release.
        run("makemigrations", APP, stock=True, interactive=False, verbosity=0)
        (new,) = set(module.files()) - set(before)
        assert "AlterOrderWithRespectTo" in module.read(new)
