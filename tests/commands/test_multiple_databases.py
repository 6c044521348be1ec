"""Several databases: stage runs, showstages and verifystages per ``--database``, routers honoured.

Two apps, alpha and beta (tests/multidb/), have the same model: release N is
INITIAL below, release N+1 their models.py (a NOT NULL field removed, one
added), which makemigrations splits into a pre-deploy and a post-deploy
migration. The router of the test settings sends each app to the database
the setting MULTIDB_ROUTES names. Django applies every migration on each
database it migrates and records it there; its operations change only the
databases the routers let hold their tables. Each case reads both
databases' schema (introspection) and django_migrations: the database a
command ran on got exactly its own apps' changes, the other one nothing.
"""

from __future__ import annotations

import importlib
import inspect
import itertools
import json
import pkgutil
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.management.base import CommandError
from django.db import connections, models
from django.db.migrations import operations
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.operations.base import Operation
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ModelState, ProjectState
from django.test.utils import (
    CaptureQueriesContext,
    extend_sys_path,
    modify_settings,
    override_settings,
)

import green_makemigrations
from green_makemigrations.foreign_keys import AddForeignKeyNotValid, AlterFieldForeignKeyNotValid
from green_makemigrations.management.commands import makemigrations
from green_makemigrations.management.commands.makemigrations import applied_everywhere
from green_makemigrations.merged_unique import RemoveConstraintKeepingFieldUnique
from green_makemigrations.operations import (
    AddCheckConstraintNotValid,
    AddFieldIndexConcurrently,
    AddIndexConcurrently,
    AddUniqueConstraintConcurrently,
    AlterFieldIndexConcurrently,
    AlterFieldUniqueConcurrently,
    AlterUniqueTogetherConcurrently,
    RemoveIndexConcurrently,
    SetNotNull,
)
from green_makemigrations.resumable import ResumableOperation
from green_makemigrations.routing import migrated_databases
from green_makemigrations.sync import (
    ReplaceColumn,
    StopSyncRenamedColumns,
    SyncRenamedColumns,
    SyncRetypedColumn,
)
from green_makemigrations.views import (
    AlterModelTableWithViews,
    CreateView,
    DropView,
    RenameModelWithViews,
)
from tests.multidb.routers import database_of
from tests.subset import chosen

from .test_verifystages import SkippingPrep
from .utils import run, verify, written

APPS = ("alpha", "beta")
ALIASES = ("default", "other")
STAGES = ("pre-deploy", "post-deploy")
# Which app the router sends to "other" (the rest stay on "default").
ROUTINGS = {
    "beta-on-other": {"beta": "other"},
    "alpha-on-other": {"alpha": "other"},
    "both-on-other": {"alpha": "other", "beta": "other"},
}
# The apps have the same migrations: alpha-on-other mirrors beta-on-other but
# where alpha's release N+1 is Django's own (the "stock" flavour).
SAME_MIGRATIONS = ["beta-on-other", "both-on-other"]
# How far a database is deployed when a case starts.
MOMENTS = ("release N", "pre-deploy")


def matrix(routings: list[str], *third: Sequence[str]) -> list[Any]:
    """Return the cases routing x database (x third), shared between the Django versions of a run.

    Each case runs under one of them (tests/subset.py); those of the first
    routing on the "other" database (another backend beside a server one)
    under all.
    """
    cases = [
        (routing, alias, *rest)
        for routing in routings
        for alias in ALIASES
        for rest in itertools.product(*third)
    ]
    kept = chosen(cases, lambda case: case[0] == routings[0] and case[1] == "other")
    return [pytest.param(*case, id="-".join(case).replace(" ", "-")) for case in kept]


INITIAL = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Item",
            fields=[
                (
                    "id",
                    models.AutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=50)),
                ("code", models.CharField(max_length=20)),
            ],
        ),
    ]
"""

pytestmark = pytest.mark.django_db(transaction=True, databases=list(ALIASES))


@dataclass(frozen=True)
class History:
    """The migrations makemigrations wrote for release N+1 of each app, in temporary packages."""

    modules: dict[str, dict[str, str]]  # flavour -> app_label -> migrations module
    names: dict[str, dict[str, list[str]]]  # app_label -> stage -> migration names (green)


@pytest.fixture(scope="module")
def history(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[History]:
    """Write release N+1's migrations: the package's for both apps, Django's own for alpha.

    Installs both apps for the module.
    """
    root: Path = tmp_path_factory.mktemp("multidb")
    modules: dict[str, dict[str, str]] = {"green": {}, "stock": {}}
    names: dict[str, dict[str, list[str]]] = {}
    with (
        extend_sys_path(str(root)),
        modify_settings(INSTALLED_APPS={"append": [f"tests.multidb.{app}" for app in APPS]}),
        django_db_blocker.unblock(),
    ):
        for flavour, app in [("green", "alpha"), ("green", "beta"), ("stock", "alpha")]:
            package = root / f"{flavour}_{app}"
            (package / "migrations").mkdir(parents=True)
            (package / "__init__.py").touch()
            (package / "migrations" / "__init__.py").touch()
            (package / "migrations" / "0001_initial.py").write_text(INITIAL)
            module = f"{package.name}.migrations"
            with override_settings(MIGRATION_MODULES={app: module}):
                options = ["--stock"] if flavour == "stock" else []
                run("makemigrations", app, *options, interactive=False, verbosity=0)
            modules[flavour][app] = module
            if flavour == "green":
                migrations = written(package / "migrations")
                names[app] = {
                    stage: [
                        m.name for m in migrations if m.stage == stage.upper().replace("-", "_")
                    ]
                    for stage in STAGES
                }
        yield History(modules, names)
    shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class Snapshot:
    """One database's tables of both apps (column -> nullable) and their applied migrations."""

    tables: dict[str, dict[str, bool]]
    applied: set[tuple[str, str]]


def snapshot(alias: str) -> Snapshot:
    """Read alias's tables of both apps by introspection, and its django_migrations."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        names = [t for t in connection.introspection.table_names(cursor) if t.startswith(APPS)]
        tables = {
            table: {
                info.name: bool(info.null_ok)
                for info in connection.introspection.get_table_description(cursor, table)
            }
            for table in names
        }
    recorded = MigrationRecorder(connection).applied_migrations()
    return Snapshot(tables, {key for key in recorded if key[0] in APPS})


def forget(alias: str) -> None:
    """Drop both apps' tables on alias and forget their applied migrations."""
    connection = connections[alias]
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            if table.startswith(APPS):
                cursor.execute(f"DROP TABLE {connection.ops.quote_name(table)}")
    MigrationRecorder(connection).migration_qs.filter(app__in=APPS).delete()


@pytest.fixture
def deployed(history: History, request: pytest.FixtureRequest) -> Iterator[History]:
    """Release N on both databases, the apps routed as the test's routing says.

    The test's flavour ("green", default; "stock": alpha's release N+1 is
    Django's own migration) picks the migrations.
    """
    routing = request.node.callspec.params["routing"]
    flavour = request.node.callspec.params.get("flavour", "green")
    modules = {**history.modules["green"], **history.modules[flavour]}
    with override_settings(MIGRATION_MODULES=modules, MULTIDB_ROUTES=ROUTINGS[routing]):
        for alias in ALIASES:
            forget(alias)
            # As migrate runs them, without a command's checks and output.
            MigrationExecutor(connections[alias]).migrate([(app, "0001_initial") for app in APPS])
        try:
            yield history
        finally:
            for alias in ALIASES:
                forget(alias)


def other_than(alias: str) -> str:
    return ALIASES[1 - ALIASES.index(alias)]


# The columns of an app's table (column -> nullable) at each moment of its deploy.
COLUMNS = {
    "release N": {"id": False, "name": False, "code": False},
    "pre-deploy": {"id": False, "name": False, "code": True, "size": False},
    "post-deploy": {"id": False, "name": False, "size": False},
}


def stages_to(moment: str) -> list[str]:
    """Return the stages run once moment ("release N" or a stage) is deployed."""
    return list(STAGES[: STAGES.index(moment) + 1]) if moment in STAGES else []


def names(history: History, *stages: str) -> list[str]:
    """Return "app_label.name" of both apps' migrations of stages, as the plans order them."""
    return [
        f"{app}.{name}" for stage in stages for app in APPS for name in history.names[app][stage]
    ]


def expected(history: History, alias: str, moment: str) -> Snapshot:
    """Return what alias holds once moment is deployed on it.

    Its apps' tables; the migrations of every app (the routed-away ones are
    recorded though they changed nothing).
    """
    return Snapshot(
        {f"{app}_item": COLUMNS[moment] for app in APPS if database_of(app) == alias},
        {
            (app, name)
            for app in APPS
            for name in ["0001_initial"]
            + [name for stage in stages_to(moment) for name in history.names[app][stage]]
        },
    )


@pytest.mark.parametrize(("routing", "alias", "stage"), matrix(SAME_MIGRATIONS, STAGES))
def test_a_stage_run_changes_its_database_alone(
    deployed: History, routing: str, alias: str, stage: str
) -> None:
    """migrate --stage --database X: X's apps change on X; the other database not at all.

    Then the rollback of both apps to release N, its stages in order, on X.
    """
    untouched = snapshot(other_than(alias))
    assert snapshot(alias) == expected(deployed, alias, "release N")
    for each in stages_to(stage):
        run("migrate", stage=each, database=alias, verbosity=0)
    assert snapshot(alias) == expected(deployed, alias, stage)
    assert snapshot(other_than(alias)) == untouched

    for app in APPS:
        for each in STAGES:
            run("migrate", app, "0001_initial", stage=each, database=alias, verbosity=0)
    assert snapshot(alias) == expected(deployed, alias, "release N")
    assert snapshot(other_than(alias)) == untouched


@pytest.mark.parametrize(("routing", "alias", "moment"), matrix(SAME_MIGRATIONS, MOMENTS))
def test_showstages_lists_what_runs_on_its_database(
    deployed: History, routing: str, alias: str, moment: str
) -> None:
    """showstages --database X, X deployed to moment: every app's pending migrations (all are
    applied on X), with operations only for X's apps; the others' are "elsewhere".
    """
    for each in stages_to(moment):
        run("migrate", stage=each, database=alias, verbosity=0)
    report = json.loads(run("showstages", database=alias, format="json").stdout)
    assert report["database"] == alias
    pending = [stage for stage in STAGES if stage not in stages_to(moment)]
    for stage in STAGES:
        entries = report[stage.replace("-", "_")]
        expected_names = names(deployed, stage) if stage in pending else []
        assert [entry["migration"] for entry in entries] == expected_names
        for entry in entries:
            here = database_of(entry["app_label"]) == alias
            assert bool(entry["operations"]) is here, entry
            assert bool(entry["elsewhere"]) is not here, entry
            drops = [
                (operation.get("table"), operation.get("column"))
                for operation in entry["operations"]
                if operation["type"] == "RemoveField"
            ]
            dropped = here and stage == "post-deploy"
            assert drops == ([(f"{entry['app_label']}_item", "code")] if dropped else [])
    text = run("showstages", database=alias).stdout
    elsewhere = [
        operation["description"]
        for stage in pending
        for entry in report[stage.replace("-", "_")]
        for operation in entry["elsewhere"]
    ]
    lines = [line.strip() for line in text.splitlines() if "Not on this database" in line]
    assert lines == [f"Not on this database (routers): {each}" for each in elsewhere]


@pytest.mark.parametrize(("routing", "alias", "moment"), matrix(SAME_MIGRATIONS, MOMENTS))
def test_the_proof_of_a_database_starts_from_its_own_applied_migrations(
    deployed: History, routing: str, alias: str, moment: str
) -> None:
    """verifystages --database D proves D's pending plan, read from D's django_migrations."""
    for each in stages_to(moment):
        run("migrate", stage=each, database=alias, verbosity=0)
    for database in ALIASES:
        status, output = verify("--database", database, "--format", "json")
        proof = json.loads(output)
        assert (status, proof["proven"], proof["database"]) == (0, True, database), output
        done = stages_to(moment) if database == alias else []
        assert proof["pre_deploy"] == ([] if done else names(deployed, "pre-deploy"))
        assert proof["post_deploy"] == names(deployed, "post-deploy")


@pytest.mark.parametrize("flavour", ["stock"])
@pytest.mark.parametrize(
    ("routing", "alias"), matrix(["alpha-on-other", "beta-on-other", "both-on-other"])
)
def test_the_proof_of_a_database_judges_the_models_it_holds(
    deployed: History, routing: str, alias: str, flavour: str
) -> None:
    """Django's own migration of alpha breaks the new release where alpha's table is, only there.

    The pre-deploy stage run agrees: it refuses to start on alpha's
    database, and runs on the other one.
    """
    status, output = verify("--database", alias, "--format", "json")
    proof = json.loads(output)
    alpha_here = database_of("alpha") == alias
    assert status == (1 if alpha_here else 0), output
    assert {violation["model"] for violation in proof["violations"]} == (
        {"alpha.Item"} if alpha_here else set()
    ), output
    before = snapshot(alias)
    if alpha_here:
        with pytest.raises(CommandError, match="the proof that both releases keep working"):
            run("migrate", stage="pre-deploy", database=alias, verbosity=0)
        assert snapshot(alias) == before
    else:
        run("migrate", stage="pre-deploy", database=alias, verbosity=0)
        assert ("beta", deployed.names["beta"]["pre-deploy"][0]) in snapshot(alias).applied


@pytest.mark.parametrize("routing", ["alpha-on-other", "beta-on-other"])
def test_makemigrations_proves_the_new_migrations_on_each_database_they_change(
    history: History, routing: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An autodetector that skips the prep of a removal: the proof names alpha's database only.

    Each database is proven with its own backend, for the models it holds.
    """
    monkeypatch.setattr(makemigrations.Command, "autodetector", SkippingPrep)
    package = tmp_path / "gap_alpha"
    (package / "migrations").mkdir(parents=True)
    (package / "__init__.py").touch()
    (package / "migrations" / "__init__.py").touch()
    (package / "migrations" / "0001_initial.py").write_text(INITIAL)
    modules = {**history.modules["green"], "alpha": "gap_alpha.migrations"}
    with (
        extend_sys_path(str(tmp_path)),
        override_settings(MIGRATION_MODULES=modules, MULTIDB_ROUTES=ROUTINGS[routing]),
    ):
        output = run("makemigrations", "alpha", dry_run=True, interactive=False).stdout
        where = database_of("alpha")
    assert f"Pending on database {where!r}" in output, output
    assert f"on database {other_than(where)!r}" not in output, output
    assert "column code of alpha_item is NOT NULL" in output, output


@pytest.mark.parametrize("routing", SAME_MIGRATIONS)
def test_makemigrations_takes_as_deployed_what_every_database_has_applied(
    deployed: History, routing: str
) -> None:
    """Post-deploy done on default only: still pending for makemigrations (other records it too).

    Where to place a new pre-deploy migration depends on it: after a
    post-deploy migration still pending on other, other's pre-deploy stage
    could not run.
    """
    for alias in ALIASES:
        run("migrate", stage="pre-deploy", database=alias, verbosity=0)
    run("migrate", stage="post-deploy", database="default", verbosity=0)
    assert migrated_databases() == list(ALIASES)
    applied = applied_everywhere()
    assert applied is not None
    keys = {(app, name) for app in APPS for name in deployed.names[app]["pre-deploy"]}
    assert keys <= applied
    keys = {(app, name) for app in APPS for name in deployed.names[app]["post-deploy"]}
    assert not keys & applied
    run("migrate", stage="post-deploy", database="other", verbosity=0)
    assert keys <= (applied_everywhere() or set())


@pytest.mark.parametrize("alias", ALIASES)
@pytest.mark.parametrize("routing", ["beta-on-other"])
def test_the_exercise_of_a_database_queries_the_models_it_holds(
    deployed: History, routing: str, alias: str
) -> None:
    """verifystages --exercise --database X: X's scratch copy, X's models."""
    status, output = verify("--database", alias, "--exercise", "--format", "json")
    exercise = json.loads(output)["exercise"]
    assert (status, exercise["failures"]) == (0, []), output
    labels = {f"{app}.Item" for app in APPS if database_of(app) == alias}
    for moment in exercise["moments"]:
        assert set(moment["exercised"]) & {"alpha.Item", "beta.Item"} == labels, output


# --- The package's operations on a database the routers keep their model off ----------

NULLABLE = {"null": True}
# Each operation of the package on alpha.Item, with the operations that give
# the state it runs on (a field to drop, an index to remove...).
ROUTED_OPERATIONS: list[tuple[Any, list[Operation]]] = [
    (AddIndexConcurrently("item", models.Index(fields=["name"], name="alpha_name_idx")), []),
    (
        RemoveIndexConcurrently("item", "alpha_name_idx"),
        [operations.AddIndex("item", models.Index(fields=["name"], name="alpha_name_idx"))],
    ),
    (
        AddCheckConstraintNotValid(
            "item", models.CheckConstraint(condition=models.Q(size__gte=0), name="alpha_size")
        ),
        [],
    ),
    (
        AddUniqueConstraintConcurrently(
            "item", models.UniqueConstraint(fields=["name"], name="alpha_name_uniq")
        ),
        [],
    ),
    (
        AlterFieldUniqueConcurrently("item", "name", models.CharField(max_length=50, unique=True)),
        [],
    ),
    (
        AlterFieldIndexConcurrently("item", "name", models.CharField(max_length=50, db_index=True)),
        [],
    ),
    (AddFieldIndexConcurrently("item", "tag", models.CharField(max_length=9, db_index=True)), []),
    (AlterUniqueTogetherConcurrently("item", {("name", "size")}), []),
    (
        SetNotNull("item", "note", models.CharField(max_length=9, default="-")),
        [operations.AddField("item", "note", models.CharField(max_length=9, **NULLABLE))],
    ),
    (
        SyncRenamedColumns("item", "name", "label"),
        [operations.AddField("item", "label", models.CharField(max_length=50, **NULLABLE))],
    ),
    (
        StopSyncRenamedColumns("item", "name", "label"),
        [operations.AddField("item", "label", models.CharField(max_length=50, **NULLABLE))],
    ),
    (
        SyncRetypedColumn("item", "size", "size_retyped"),
        [operations.AddField("item", "size_retyped", models.BigIntegerField(**NULLABLE))],
    ),
    (
        ReplaceColumn("item", "size", "size_retyped"),
        [operations.AddField("item", "size_retyped", models.BigIntegerField(**NULLABLE))],
    ),
    (CreateView("alpha_old_item", "item"), []),
    (DropView("alpha_old_item", "item"), []),
    (RenameModelWithViews("Item", "Thing", [("alpha_item", None, {})]), []),
    (AlterModelTableWithViews("item", "alpha_things", [("alpha_item", None, {})]), []),
    (
        AddForeignKeyNotValid(
            "item", "parent", models.ForeignKey("alpha.item", models.CASCADE, **NULLABLE)
        ),
        [],
    ),
    (
        AlterFieldForeignKeyNotValid(
            "item", "parent", models.ForeignKey("alpha.item", models.CASCADE, **NULLABLE)
        ),
        [
            operations.AddField(
                "item", "parent", models.IntegerField(db_column="parent_id", **NULLABLE)
            )
        ],
    ),
    (
        RemoveConstraintKeepingFieldUnique("item", "alpha_name_uniq"),
        [
            operations.AddConstraint(
                "item", models.UniqueConstraint(fields=["name"], name="alpha_name_uniq")
            )
        ],
    ),
    # What a stage run wraps each operation in (the resumable runs of MariaDB).
    (
        ResumableOperation(operations.AddField("item", "tag", models.CharField(max_length=9))),
        [],
    ),
    (ResumableOperation(operations.RemoveField("item", "name")), []),
    (ResumableOperation(operations.DeleteModel("item")), []),
]


def package_operations() -> set[type[Operation]]:
    """Return every operation class of the package that runs something on a database."""
    found = set()
    for info in pkgutil.walk_packages(green_makemigrations.__path__, "green_makemigrations."):
        if ".management" in info.name:
            continue
        module = importlib.import_module(info.name)
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if (
                issubclass(cls, Operation)
                and cls.__module__ == module.__name__
                and not cls.__name__.startswith("_")  # a base the public ones share
                and cls.database_forwards is not Operation.database_forwards
            ):
                found.add(cls)
    return found


def test_every_operation_of_the_package_is_run_where_its_model_is_not() -> None:
    """A new operation cannot escape test_operations_leave_a_database_without_their_model_alone."""
    covered = {type(operation) for operation, _setup in ROUTED_OPERATIONS}
    assert package_operations() <= covered


def item_state() -> ProjectState:
    fields = [
        ("id", models.AutoField(primary_key=True)),
        ("name", models.CharField(max_length=50)),
        ("size", models.IntegerField(default=0)),
    ]
    return ProjectState({("alpha", "item"): ModelState("alpha", "Item", fields)})


@pytest.mark.parametrize(
    "alias",
    [
        pytest.param(a, marks=pytest.mark.django_db(transaction=True, databases=[a]))
        for a in ALIASES
    ],
)
def test_operations_leave_a_database_without_their_model_alone(alias: str) -> None:
    """Forwards and backwards, each operation sends nothing to a database without its model.

    Not even introspection: Django's own operations ask the routers first.
    """
    connection = connections[alias]
    sent = {}
    with override_settings(MULTIDB_ROUTES={"alpha": other_than(alias)}):
        for number, (operation, setup) in enumerate(ROUTED_OPERATIONS):
            before = item_state()
            for step in setup:
                step.state_forwards("alpha", before)
            after = before.clone()
            operation.state_forwards("alpha", after)
            with connection.schema_editor(atomic=False) as editor:
                with CaptureQueriesContext(connection) as queries:
                    operation.database_forwards("alpha", editor, before, after)
                    operation.database_backwards("alpha", editor, after, before)
                statements = [query["sql"] for query in queries] + editor.deferred_sql
            if statements:
                sent[f"{number}: {operation.describe()}"] = statements
    assert sent == {}
