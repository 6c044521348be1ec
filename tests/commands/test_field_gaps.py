"""Field-level changes no phasing rule used to cover (issue 12), through both stages.

Each case is a model at release N and at release N+1, written into a
temporary app. makemigrations either refuses, saying what to do, or writes
pre-deploy and post-deploy migrations, which are checked, applied forwards
and rolled back. Between the stages the previous release (the model of the
initial migration's state) and the new one (the app's model) both insert,
read and update rows; after post-deploy the new one does, after the rollback
the previous one.

- a db_column change is an expand/contract: the new column is added and
  kept in sync with the old one by triggers, and replaces it in post-deploy
  (refused on a relation and for a change only in case);
- a unique field never gets a constant database default: refused when
  added, made nullable when removed; a per-row default (uuid4) is kept;
- constant callables the database can store (list, dict, str, int, bool)
  become database defaults, JSON literals too;
- db_index added or dropped on an existing field builds or drops the index
  concurrently on PostgreSQL.
"""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.management.base import CommandError
from django.db import IntegrityError, connection
from django.db.migrations.loader import MigrationLoader
from django.test.utils import extend_sys_path, modify_settings, override_settings

from .utils import columns, run

LABEL = "gaps"
TABLE = "gaps_item"
OWNER = object()  # stands for the pk of an Owner row in a case's values

MODELS = """\
import uuid

from django.db import models


class Owner(models.Model):
    name = models.CharField(max_length=10, default="")


class Item(models.Model):
    a = models.IntegerField(default=0)
{fields}
    class Meta:
{meta}
"""


@dataclass(frozen=True)
class Case:
    """A change of Item between two releases and what each release must see.

    ``before``/``after`` are the lines of Item's fields besides ``a`` (and
    Meta options); ``pre``/``post`` the operation classes of the written
    migrations, or ``refused`` a part of makemigrations' message. ``old``
    and ``new`` are the values each release writes (two rows each);
    ``shared`` the fields both releases read with the same meaning;
    ``new_sees``/``old_sees`` what a release reads in a field the other
    release's rows do not set.
    """

    id: str
    before: str
    after: str
    pre: tuple[str, ...] = ()
    post: tuple[str, ...] = ()
    refused: str | None = None
    old: tuple[dict[str, Any], ...] = ({}, {})
    new: tuple[dict[str, Any], ...] = ({}, {})
    shared: tuple[str, ...] = ()
    new_sees: dict[str, Any] = field(default_factory=dict)
    old_sees: dict[str, Any] = field(default_factory=dict)
    meta_before: str = ""
    meta_after: str = ""
    columns_after: tuple[str, ...] = ()
    gone_after: tuple[str, ...] = ()
    concurrent: bool = False
    rollback: bool = True


RETYPE_PRE = ("AlterField", "AddField", "SyncRetypedColumn")
RETYPE_POST = ("ReplaceColumn", "SetNotNull")
INT_ROWS: dict[str, Any] = {
    "old": ({"n": 1}, {"n": 2}),
    "new": ({"n": 3}, {"n": 4}),
    "shared": ("n",),
}

CASES = [
    # -- a unique field's own constant db_default: every row would share it ----
    Case(
        "unique-with-db_default-added",
        "",
        "u = models.IntegerField(unique=True, db_default=5)",
        refused="it is NOT NULL, it is unique (unique=True), and its database default",
    ),
    Case(
        "unique-nullable-with-db_default-added",
        "",
        "u = models.IntegerField(null=True, unique=True, db_default=5)",
        refused="Adding gaps.item.u: it is unique (unique=True), and its database default",
    ),
    # -- a database default the running release relies on ----------------------
    Case(
        "db_default-dropped",
        "n = models.IntegerField(db_default=5)",
        "n = models.IntegerField(default=5)",
        ("AlterField",),  # the Python default, in the state only
        ("AlterField",),
        old=({}, {}),
        new=({"n": 3}, {"n": 4}),
        new_sees={"n": 5},
    ),
    Case(
        "db_default-dropped-and-widened",
        "s = models.CharField(max_length=10, db_default='x')",
        "s = models.CharField(max_length=20, default='x')",
        ("AlterField",),
        ("AlterField",),
        old=({}, {}),
        new=({"s": "y" * 15}, {"s": "z"}),
        new_sees={"s": "x"},
        rollback=False,  # the new release's longer values do not fit the old column
    ),
    Case(
        "db_default-dropped-only",
        "n = models.IntegerField(null=True, db_default=5)",
        "n = models.IntegerField(null=True)",
        (),
        ("AlterField",),
        old=({}, {}),
        new=({"n": 3}, {"n": None}),
        new_sees={"n": 5},
    ),
    Case(
        "db_default-changed",
        "n = models.IntegerField(db_default=5)",
        "n = models.IntegerField(db_default=6)",
        ("AlterField",),
        (),
        # The running release's inserts take the new default where the
        # database fills it in (PostgreSQL, MariaDB: DEFAULT), the one its
        # model names on SQLite: a value either way, never NULL.
        old=({}, {}),
        new=({}, {}),
    ),
    # -- db_column ------------------------------------------------------------
    Case(
        "db_column-added",
        "n = models.IntegerField()",
        "n = models.IntegerField(db_column='col_n')",
        RETYPE_PRE,
        RETYPE_POST,
        **INT_ROWS,
        columns_after=("col_n",),
        gone_after=("n",),
    ),
    Case(
        "db_column-removed",
        "n = models.IntegerField(db_column='col_n')",
        "n = models.IntegerField()",
        RETYPE_PRE,
        RETYPE_POST,
        **INT_ROWS,
        columns_after=("n",),
        gone_after=("col_n",),
    ),
    Case(
        "db_column-changed",
        "n = models.IntegerField(db_column='col_a')",
        "n = models.IntegerField(db_column='col_b')",
        RETYPE_PRE,
        RETYPE_POST,
        **INT_ROWS,
        columns_after=("col_b",),
        gone_after=("col_a",),
    ),
    Case(
        "db_column-and-not-null",
        "n = models.IntegerField(null=True)",
        "n = models.IntegerField(db_column='col_n', default=7)",
        ("AddField", "SyncRetypedColumn"),
        RETYPE_POST,
        old=({"n": None}, {"n": 2}),
        new=({"n": 3}, {"n": 4}),
        shared=("n",),
        columns_after=("col_n",),
        gone_after=("n",),
    ),
    Case(
        "db_column-and-bigint",
        "n = models.IntegerField()",
        "n = models.BigIntegerField(db_column='col_n')",
        RETYPE_PRE,
        RETYPE_POST,
        **INT_ROWS,
        columns_after=("col_n",),
        gone_after=("n",),
    ),
    Case(
        "db_column-and-wider-char",
        "n = models.CharField(max_length=5)",
        "n = models.CharField(max_length=9, db_column='col_n')",
        RETYPE_PRE,
        RETYPE_POST,
        old=({"n": "a"}, {"n": "b"}),
        new=({"n": "c"}, {"n": "d"}),
        shared=("n",),
        columns_after=("col_n",),
        gone_after=("n",),
    ),
    Case(
        "db_column-unique",
        "n = models.IntegerField(unique=True)",
        "n = models.IntegerField(unique=True, db_column='col_n')",
        ("AlterField", "AddFieldIndexConcurrently", "SyncRetypedColumn"),
        RETYPE_POST,
        **INT_ROWS,
        columns_after=("col_n",),
        gone_after=("n",),
    ),
    Case(
        "db_column-on-foreign-key",
        "owner = models.ForeignKey(Owner, models.CASCADE)",
        "owner = models.ForeignKey(Owner, models.CASCADE, db_column='owner')",
        refused="its column changes (owner_id -> owner), and it is a relation. Keep its "
        "column (db_column='owner_id'",
        old=({"owner_id": OWNER}, {"owner_id": OWNER}),
    ),
    Case(
        "db_column-case-only",
        "n = models.IntegerField(db_column='COL')",
        "n = models.IntegerField(db_column='col')",
        refused="its column changes only in case (COL -> col)",
        old=({"n": 1}, {"n": 2}),
    ),
    Case(
        "db_column-kept-by-rename",
        "n = models.IntegerField()",
        "m = models.IntegerField(db_column='n')",
        ("AlterField", "RenameField"),  # Django's AlterField only carries db_column over
        (),
        old=({"n": 1}, {"n": 2}),
        new=({"m": 3}, {"m": 4}),
        columns_after=("n",),
    ),
    Case(
        # Django sees no rename when the new db_column is not the old column: a
        # removal and an addition, each phased (no value is carried over).
        "renamed-and-db_column-changed",
        "n = models.IntegerField()",
        "m = models.IntegerField(db_column='col_m', default=0)",
        ("AlterField", "AddField"),
        ("RemoveField", "AlterField"),
        old=({"n": 1}, {"n": 2}),
        new=({"m": 3}, {"m": 4}),
        new_sees={"m": 0},
        old_sees={"n": None},
        columns_after=("col_m",),
        gone_after=("n",),
        rollback=False,  # the new release's rows have no n to make NOT NULL again
    ),
    # -- unique fields: no constant database default --------------------------
    Case(
        "unique-added-with-default",
        "",
        "code = models.CharField(max_length=8, unique=True, default='x')",
        refused="it is unique (unique=True), and its database default 'x' would give",
    ),
    Case(
        "unique-added-blank",
        "",
        "code = models.CharField(max_length=8, unique=True, blank=True)",
        refused="it is unique (unique=True), and its database default '' would give",
    ),
    Case(
        "unique-one-to-one-added-with-default",
        "",
        "owner = models.OneToOneField(Owner, models.CASCADE, default=1)",
        refused="it is unique (unique=True)",
    ),
    Case(
        "unique_together-added-with-default",
        "",
        "c = models.IntegerField(default=1)",
        meta_after="unique_together = [('a', 'c')]",
        refused="it is unique (in Meta.unique_together ('a', 'c'))",
    ),
    Case(
        "unique-constraint-added-with-default",
        "",
        "c = models.IntegerField(default=1)",
        meta_after="constraints = [models.UniqueConstraint(fields=['c'], name='gaps_c')]",
        refused="it is unique (in UniqueConstraint 'gaps_c')",
    ),
    Case(
        "conditional-unique-constraint-added-with-default",
        "",
        "c = models.IntegerField(default=1)",
        meta_after="constraints = [models.UniqueConstraint(fields=['c'], "
        "condition=models.Q(a__gt=0), name='gaps_c')]",
        refused="it is unique (in UniqueConstraint 'gaps_c')",
    ),
    Case(
        "unique-uuid4-added",
        "",
        "u = models.UUIDField(unique=True, default=uuid.uuid4)",
        ("AddFieldIndexConcurrently",),
        ("AlterField",),
        concurrent=True,
    ),
    Case(
        "unique-removed-with-default",
        "code = models.CharField(max_length=8, unique=True, default='x')",
        "",
        ("AlterField",),
        ("RemoveField",),
        old=({"code": "a"}, {"code": "b"}),
        old_sees={"code": None},  # nullable until the drop
        rollback=False,  # the new release's rows have no code: no unique values to restore
    ),
    Case(
        "unique_together-removed-with-default",
        "c = models.IntegerField(default=1)",
        "",
        ("AlterUniqueTogether", "AlterField"),
        ("RemoveField",),
        meta_before="unique_together = [('a', 'c')]",
        old=({"a": 1}, {"a": 2}),
        old_sees={"c": 1},  # the constraint went in pre-deploy: a default is safe
        rollback=False,  # the new release's rows share c: unique_together cannot come back
    ),
    # -- constant callables and JSON literals as database defaults -----------
    Case(
        "json-list-added",
        "",
        "tags = models.JSONField(default=list)",
        ("AddField",),
        ("AlterField",),
        new=({"tags": ["x"]}, {"tags": []}),
        new_sees={"tags": []},
    ),
    Case(
        "json-dict-added",
        "",
        "data = models.JSONField(default=dict)",
        ("AddField",),
        ("AlterField",),
        new=({"data": {"k": 1}}, {"data": {}}),
        new_sees={"data": {}},
    ),
    Case(
        "json-literal-added",
        "",
        "data = models.JSONField(default='none')",
        ("AddField",),
        ("AlterField",),
        new_sees={"data": "none"},
    ),
    Case(
        "str-callable-added",
        "",
        "note = models.CharField(max_length=5, default=str)",
        ("AddField",),
        ("AlterField",),
        new_sees={"note": ""},
    ),
    Case(
        "int-and-bool-callables-added",
        "",
        "k = models.IntegerField(default=int)\nb = models.BooleanField(default=bool)",
        ("AddField", "AddField"),
        ("AlterField", "AlterField"),
        new_sees={"k": 0, "b": False},
    ),
    Case(
        "json-list-removed",
        "tags = models.JSONField(default=list)",
        "",
        ("AlterField",),
        ("RemoveField",),
        old=({"tags": ["x"]}, {"tags": []}),
        old_sees={"tags": []},
    ),
    # -- db_index on an existing field: built and dropped concurrently ---------
    Case(
        "db_index-added",
        "n = models.IntegerField()",
        "n = models.IntegerField(db_index=True)",
        ("AlterFieldIndexConcurrently",),
        (),
        **INT_ROWS,
        concurrent=True,
    ),
    Case(
        "db_index-removed",
        "n = models.IntegerField(db_index=True)",
        "n = models.IntegerField()",
        ("AlterFieldIndexConcurrently",),
        (),
        **INT_ROWS,
        concurrent=True,
    ),
    Case(
        "db_index-added-with-not-null",
        "n = models.IntegerField(null=True)",
        "n = models.IntegerField(db_index=True, default=0)",
        ("AlterFieldIndexConcurrently",),
        ("SetNotNull",),
        old=({"n": None}, {"n": 2}),
        new=({"n": 3}, {"n": 4}),
        shared=("n",),
        concurrent=True,
    ),
    Case(
        "unique-field-added-nullable",
        "",
        "code = models.CharField(max_length=8, unique=True, null=True)",
        ("AddFieldIndexConcurrently",),
        (),
        new=({"code": "a"}, {"code": "b"}),
        new_sees={"code": None},
        concurrent=True,
    ),
    Case(
        "db_index-field-added",
        "",
        "k = models.IntegerField(db_index=True, default=0)",
        ("AddFieldIndexConcurrently",),
        ("AlterField",),
        new_sees={"k": 0},
        concurrent=True,
    ),
    Case(
        "db_index-added-on-char",
        "n = models.CharField(max_length=5)",
        "n = models.CharField(max_length=5, db_index=True)",
        ("AlterFieldIndexConcurrently",),
        (),
        old=({"n": "a"}, {"n": "b"}),
        new=({"n": "c"}, {"n": "d"}),
        shared=("n",),
        concurrent=True,
    ),
    Case(
        "db_index-added-on-foreign-key",
        "owner = models.ForeignKey(Owner, models.CASCADE, db_index=False)",
        "owner = models.ForeignKey(Owner, models.CASCADE)",
        ("AlterFieldIndexConcurrently",),
        (),
        old=({"owner_id": OWNER}, {"owner_id": OWNER}),
        new=({"owner_id": OWNER}, {"owner_id": OWNER}),
        concurrent=True,
    ),
]


def models_source(fields: str, meta: str) -> str:
    return MODELS.format(
        fields=textwrap.indent(fields, "    ") + "\n" if fields else "",
        meta=textwrap.indent(meta or "pass", "        "),
    )


@contextmanager
def release(directory: Path, source: str, migrations_module: str) -> Iterator[None]:
    """Install app gaps with source as its models.py, under a package name of its own."""
    package = f"gaps_{uuid.uuid4().hex}"
    (directory / package).mkdir()
    (directory / package / "__init__.py").touch()
    (directory / package / "apps.py").write_text(
        "from django.apps import AppConfig\n\n\n"
        "class GapsConfig(AppConfig):\n"
        f"    name = {package!r}\n"
        f"    label = {LABEL!r}\n"
    )
    (directory / package / "models.py").write_text(source)
    try:
        with (
            extend_sys_path(str(directory)),
            modify_settings(INSTALLED_APPS={"append": package}),
            override_settings(MIGRATION_MODULES={LABEL: migrations_module}),
        ):
            yield
    finally:
        # The next release registers models of the same names from another module.
        apps.all_models.pop(LABEL, None)
        apps.clear_cache()


def old_model(name: str = "Item") -> Any:
    """Return the previous release's model: the state after the initial migration."""
    state = MigrationLoader(None, ignore_no_migrations=True).project_state(
        (LABEL, "0001_initial"), at_end=True
    )
    return state.apps.get_model(LABEL, name)


def resolved(values: dict[str, Any], owner: int, bump: int) -> dict[str, Any]:
    """Return values with the owner's pk in place of OWNER, numbers and text made unique."""
    out = {}
    for key, value in values.items():
        if value is OWNER:
            value = owner
        elif isinstance(value, bool) or value is None:
            pass
        elif isinstance(value, int):
            value += 100 * bump
        elif isinstance(value, str):
            value += str(bump)
        out[key] = value
    return out


def write(model: Any, rows: tuple[dict[str, Any], ...], owner: int, bump: int) -> list[Any]:
    """Insert rows with model, read each back, and return their primary keys."""
    pks = []
    for values in rows:
        values = resolved(values, owner, bump)
        obj = model.objects.create(**values)
        read = model.objects.get(pk=obj.pk)
        for key, value in values.items():
            assert getattr(read, key) == value, (model, key)
        pks.append(obj.pk)
    return pks


def snapshot(model: Any, pks: list[Any], names: tuple[str, ...]) -> dict[Any, tuple[Any, ...]]:
    """Return what model reads in the fields names of the rows pks."""
    return {pk: tuple(getattr(model.objects.get(pk=pk), name) for name in names) for pk in pks}


def check_updates(writer: Any, reader: Any, pk: Any, shared: tuple[str, ...]) -> None:
    """Update the shared fields of a row with writer; reader sees the new values."""
    for name in shared:
        value = getattr(writer.objects.get(pk=pk), name)
        value = value + 10 if isinstance(value, int) else (value or "") + "u"
        writer.objects.filter(pk=pk).update(**{name: value})
        assert getattr(reader.objects.get(pk=pk), name) == value, (writer, reader, name)


def column_names() -> set[str]:
    return {name.lower() for name in columns(TABLE)}


@pytest.fixture
def workspace(tmp_path: Path, transactional_db: None) -> Iterator[tuple[Path, str, Path]]:
    """Yield a directory for app packages, the migrations module and its directory."""
    migrations_package = f"gapsmig_{uuid.uuid4().hex}"
    target = tmp_path / migrations_package / "migrations"
    target.mkdir(parents=True)
    (tmp_path / migrations_package / "__init__.py").touch()
    (target / "__init__.py").touch()
    try:
        yield tmp_path, f"{migrations_package}.migrations", target
    finally:
        with (
            extend_sys_path(str(tmp_path)),
            override_settings(MIGRATION_MODULES={LABEL: f"{migrations_package}.migrations"}),
        ):
            quote = connection.ops.quote_name
            cascade = " CASCADE" if connection.vendor == "postgresql" else ""
            with connection.cursor() as cursor:
                for table in ("gaps_item", "gaps_owner"):
                    if table in connection.introspection.table_names(cursor):
                        cursor.execute(f"DROP TABLE {quote(table)}{cascade}")
                cursor.execute("DELETE FROM django_migrations WHERE app = %s", [LABEL])


def migration_operations(name: str) -> tuple[Any, list[str]]:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    migration = loader.get_migration(LABEL, name)
    return migration, [type(op).__name__ for op in migration.operations]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_field_change(
    case: Case, workspace: tuple[Path, str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, module, migrations_dir = workspace
    # Yes to "Was n renamed to m?", the default (zero-downtime) answer to the rest.
    answers = iter(["y"])
    monkeypatch.setattr("builtins.input", lambda *args: next(answers, ""))
    with release(directory, models_source(case.before, case.meta_before), module):
        run("makemigrations", LABEL, interactive=False, verbosity=0)
        run("migrate", LABEL, verbosity=0)
        owner = old_model("Owner").objects.create(name="o").pk
        old_pks = write(old_model(), case.old, owner, 0)

    with release(directory, models_source(case.after, case.meta_after), module):
        if case.refused is not None:
            with pytest.raises(CommandError) as refusal:
                run("makemigrations", LABEL, interactive=False, verbosity=0)
            assert case.refused in str(refusal.value), str(refusal.value)
            assert sorted(p.stem for p in migrations_dir.glob("0*.py")) == ["0001_initial"]
            return
        run("makemigrations", LABEL, interactive="RenameField" in case.pre, verbosity=0)
        names = sorted(p.stem for p in migrations_dir.glob("0*.py"))[1:]
        written = [migration_operations(name) for name in names]
        by_stage: dict[str, list[str]] = {}
        for migration, ops in written:  # several per stage: concurrent steps apart
            by_stage.setdefault(str(migration.stage.value), []).extend(ops)
        assert by_stage.get("pre_deploy", []) == list(case.pre), by_stage
        assert by_stage.get("post_deploy", []) == list(case.post), by_stage
        if case.concurrent:
            # Only the migrations holding the concurrent steps are not atomic.
            concurrent = [m for m, ops in written if any("Concurrently" in op for op in ops)]
            assert concurrent and all(m.atomic is False for m in concurrent)
        run("makemigrations", LABEL, check=True, dry_run=True, verbosity=0)
        new = apps.get_model(LABEL, "Item")

        # Pre-deploy: both releases write, read and update.
        run("migrate", LABEL, stage="pre-deploy", verbosity=0)
        old = old_model()
        before = snapshot(old, old_pks, case.shared)
        new_pks = write(new, case.new, owner, 1)
        old_pks += write(old, case.old, owner, 2)
        assert snapshot(new, old_pks[: len(before)], case.shared) == before
        assert snapshot(old, new_pks, case.shared) == snapshot(new, new_pks, case.shared)
        assert snapshot(new, old_pks, case.shared) == snapshot(old, old_pks, case.shared)
        for name, value in case.new_sees.items():
            assert [getattr(new.objects.get(pk=pk), name) for pk in old_pks] == [value] * len(
                old_pks
            )
        for name, value in case.old_sees.items():
            assert [getattr(old.objects.get(pk=pk), name) for pk in new_pks] == [value] * len(
                new_pks
            )
        if case.shared:
            check_updates(old, new, new_pks[0], case.shared)
            check_updates(new, old, old_pks[-1], case.shared)
        if case.concurrent and connection.vendor == "postgresql":
            sql = run("sqlmigrate", LABEL, names[0]).stdout
            assert "INDEX CONCURRENTLY" in sql, sql

        # Post-deploy: the new release alone.
        seen = snapshot(new, old_pks + new_pks, case.shared)
        run("migrate", LABEL, stage="post-deploy", verbosity=0)
        new_pks += write(new, case.new, owner, 3)
        after = snapshot(new, old_pks + new_pks, case.shared)
        for pk, values in seen.items():
            # A NULL the old release wrote is filled from the default, nothing else moves.
            assert after[pk] == tuple(
                v if v is not None else new._meta.get_field(n).default
                for n, v in zip(case.shared, values, strict=True)
            )
        assert set(case.columns_after) <= column_names()
        assert not set(case.gone_after) & column_names()
        run("makemigrations", LABEL, check=True, dry_run=True, verbosity=0)

        # Rolled back: the previous release again, with every value.
        if case.rollback:
            run("migrate", LABEL, "0001", verbosity=0)
            old = old_model()
            assert snapshot(old, old_pks + new_pks, case.shared) == after
            write(old, case.old, owner, 4)


def test_unique_added_collision_is_what_the_refusal_prevents(
    workspace: tuple[Path, str, Path],
) -> None:
    """Stock Django's constant default fails on a table of two rows: the refusal's reason."""
    directory, module, _migrations_dir = workspace
    with release(directory, models_source("", ""), module):
        run("makemigrations", LABEL, interactive=False, verbosity=0)
        run("migrate", LABEL, verbosity=0)
        write(old_model(), ({}, {}), 0, 0)
    with release(
        directory,
        models_source("code = models.CharField(max_length=8, unique=True, default='x')", ""),
        module,
    ):
        run("makemigrations", LABEL, stock=True, interactive=False, verbosity=0)
        with pytest.raises(CommandError) as failure:
            run("migrate", LABEL, verbosity=0)
        assert isinstance(failure.value.__cause__.__cause__, IntegrityError)
