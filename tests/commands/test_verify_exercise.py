"""verifystages --exercise: both releases' queries, run on a scratch copy of the deploy.

The removal cases of test_removals.py are deployed and their migrations
written (the package's, stock Django's), as in test_verifystages.py: the
exercise's verdict must be the proof's, and the real database must not change.
A RunSQL that lies about its schema effect fools the proof, not the exercise.
The value generator fills every field type on every backend.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, models, transaction
from django.test.utils import isolate_apps

from green_makemigrations.verify.exercise import (
    AFTER_POST,
    Unsupported,
    Values,
    exercise_model,
)

from .test_removals import CASES, SOME_CASES, Removal
from .utils import (
    APP_LABEL,
    columns,
    historical_apps,
    migration_module,
    run,
    select,
    table_of,
    verify,
)

pytestmark = pytest.mark.django_db(transaction=True)


def databases() -> set[str]:
    """Return the databases of the server (none on SQLite: see scratch_is_gone())."""
    if connection.vendor == "postgresql":
        return {name for (name,) in select("SELECT datname FROM pg_database")}
    if connection.vendor == "mysql":
        return {name for (name,) in select("SHOW DATABASES")}
    return set()


def scratch_is_gone(name: str) -> bool:
    """Return whether the exercise's scratch database was dropped."""
    if connection.vendor == "sqlite":
        return not os.path.exists(os.path.dirname(name))
    return name not in databases()


def real_database() -> tuple[Any, ...]:
    """Return what the exercise must leave as it is: tables, columns, applied migrations, rows."""
    from django.db.migrations.recorder import MigrationRecorder

    with connection.cursor() as cursor:
        names = sorted(connection.introspection.table_names(cursor))
    quote = connection.ops.quote_name
    return (
        names,
        {name: sorted(columns(name)) for name in names if name.startswith("testapp_")},
        sorted(MigrationRecorder(connection).applied_migrations()),
        {name: select(f"SELECT COUNT(*) FROM {quote(name)}")[0][0] for name in names},
        connection.settings_dict["NAME"],
    )


def kinds(failures: list[dict[str, str]]) -> set[tuple[str, str, str, str]]:
    return {(f["moment"], f["release"], f["model"], f["operation"]) for f in failures}


@pytest.mark.parametrize("flavour", ["green", "stock"])
@pytest.mark.parametrize("case", SOME_CASES, ids=lambda case: case.fixture)
def test_exercise_verdict_is_the_proofs(case: Removal, flavour: str, empty_testapp: None) -> None:
    with migration_module("initial", case.fixture):
        run("migrate", APP_LABEL, verbosity=0)
        case.write_old(historical_apps(case.previous), "deployed row")
        run("makemigrations", APP_LABEL, interactive=False, stock=flavour == "stock", verbosity=0)
        before = real_database()
        status, output = verify("--format", "json", "--exercise")
        assert real_database() == before
    report = json.loads(output)
    exercised = report["exercise"]
    breaks = flavour == "stock" and case.prep is not None
    assert report["proven"] is not breaks
    assert status == (1 if breaks else 0), output
    assert exercised["ran"] is True and exercised["reason"] is None
    assert exercised["scratch_database"] != connection.settings_dict["NAME"]
    assert scratch_is_gone(exercised["scratch_database"])
    if connection.vendor != "sqlite":
        # Named as the test runner names a test database, of the test database here.
        assert exercised["scratch_database"] == f"test_{connection.settings_dict['NAME']}"
    assert [(m["moment"], m["release"]) for m in exercised["moments"]] == [
        ("after pre-deploy", "old"),
        ("after pre-deploy", "new"),
        (AFTER_POST, "new"),
    ]
    for moment in exercised["moments"]:
        assert f"{APP_LABEL}.{case.model}" in moment["exercised"]
        assert "auth.User" in moment["exercised"]
        assert moment["not_exercised"] == []
    if not breaks:
        assert exercised["failures"] == []
        return
    # Stock Django's migrations: the new release cannot insert once it starts,
    # on the column the proof named; the old release and the end state work.
    model = f"{APP_LABEL}.{case.model}"
    assert kinds(exercised["failures"]) == {("after pre-deploy", "new", model, "insert")}
    [failure] = exercised["failures"]
    assert case.column is not None and case.column in failure["message"]
    assert failure["error"] == "IntegrityError" or "OperationalError" in failure["error"]
    [violation] = report["violations"]
    assert (violation["moment"], violation["release"]) == ("after pre-deploy", "new")
    assert violation["table"] == case.table and violation["column"] == case.column


def test_without_exercise_the_output_has_no_exercise(empty_testapp: None) -> None:
    case = next(c for c in CASES if c.fixture == "remove_not_null")
    with migration_module("initial", case.fixture):
        run("migrate", APP_LABEL, verbosity=0)
        run("makemigrations", APP_LABEL, interactive=False, stock=True, verbosity=0)
        plain = verify()
        json_plain = verify("--format", "json")
        text = verify("--exercise")
        github = verify("--format", "github", "--exercise")
        gitlab = verify("--format", "gitlab", "--exercise")
    assert "exercise" not in json.loads(json_plain[1])
    assert "Exercise" not in plain[1]
    assert text[0] == 1 and text[1].startswith(plain[1])
    assert "FAILED testapp.Book insert, after pre-deploy, the new release: " in text[1]
    assert "Exercise: 1 query(ies) failed." in text[1]
    assert github[0] == 1
    assert [line for line in github[1].splitlines() if "Exercise" in line][0].startswith(
        "::error title=Exercise%3A testapp.Book insert"
    )
    issues = json.loads(gitlab[1])
    assert [issue["check_name"] for issue in issues] == ["no-value", "exercise"]


LYING_RUN_SQL = """from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("testapp", "0001_initial")]
    operations = [
        migrations.RunSQL(
            "ALTER TABLE testapp_book RENAME COLUMN summary TO abstract",
            "ALTER TABLE testapp_book RENAME COLUMN abstract TO summary",
            hints={"schema_effect": []},  # false: it renames a column both releases use
        )
    ]
"""


def test_exercise_catches_a_run_sql_that_fools_the_proof(empty_testapp: None) -> None:
    with migration_module("initial") as module:
        run("migrate", APP_LABEL, verbosity=0)
        (module.path / "0002_rename_summary.py").write_text(LYING_RUN_SQL)
        before = real_database()
        proof_status, proof = verify("--format", "json")
        status, output = verify("--format", "json", "--exercise")
        assert real_database() == before
    assert proof_status == 0 and json.loads(proof)["proven"] is True
    report = json.loads(output)
    assert status == 1 and report["proven"] is True
    failures = report["exercise"]["failures"]
    expected = {("after pre-deploy", "old"), ("after pre-deploy", "new"), (AFTER_POST, "new")}
    assert {
        (f["moment"], f["release"])
        for f in failures
        if (f["model"], f["operation"]) == ("testapp.Book", "insert")
    } == expected
    assert all("summary" in f["message"] for f in failures), failures
    assert {f["model"] for f in failures} == {"testapp.Book"}


def test_a_stage_that_does_not_apply_is_a_failure(empty_testapp: None) -> None:
    broken = LYING_RUN_SQL.replace("RENAME COLUMN summary TO abstract", "RENAME COLUMN nil TO x")
    with migration_module("initial") as module:
        run("migrate", APP_LABEL, verbosity=0)
        (module.path / "0002_rename_summary.py").write_text(broken)
        before = real_database()
        status, output = verify("--format", "json", "--exercise")
        assert real_database() == before
    exercised = json.loads(output)["exercise"]
    assert status == 1
    [failure] = exercised["failures"]
    assert (failure["moment"], failure["model"], failure["operation"]) == (
        "pre-deploy stage",
        "testapp.0002_rename_summary",
        "migrate",
    )
    assert exercised["moments"] == []


# The value generator, one field type at a time.


class Point(models.Field):  # type: ignore[type-arg]
    """A field type the generator does not know."""

    def db_type(self, connection: Any) -> str:
        return "varchar(20)"


FIELDS: list[tuple[str, Any]] = [
    ("boolean", lambda: models.BooleanField()),
    ("small", lambda: models.SmallIntegerField(unique=True)),
    ("integer", lambda: models.IntegerField()),
    ("big", lambda: models.BigIntegerField()),
    ("positive_small", lambda: models.PositiveSmallIntegerField()),
    ("positive", lambda: models.PositiveIntegerField()),
    ("positive_big", lambda: models.PositiveBigIntegerField()),
    ("decimal", lambda: models.DecimalField(max_digits=5, decimal_places=2)),
    ("decimal_whole", lambda: models.DecimalField(max_digits=3, decimal_places=0)),
    ("float", lambda: models.FloatField()),
    ("date", lambda: models.DateField()),
    ("datetime", lambda: models.DateTimeField()),
    ("auto_now", lambda: models.DateTimeField(auto_now=True)),
    ("time", lambda: models.TimeField()),
    ("duration", lambda: models.DurationField()),
    ("uuid", lambda: models.UUIDField(unique=True)),
    ("json", lambda: models.JSONField()),
    ("char", lambda: models.CharField(max_length=7, unique=True)),
    ("char_one", lambda: models.CharField(max_length=1)),
    ("text", lambda: models.TextField()),
    ("email", lambda: models.EmailField()),
    ("slug", lambda: models.SlugField()),
    ("url", lambda: models.URLField()),
    ("binary", lambda: models.BinaryField(max_length=8)),
    ("ip", lambda: models.GenericIPAddressField()),
    ("file", lambda: models.FileField()),
    ("choices", lambda: models.CharField(max_length=3, choices=[("abc", "A"), ("d", "D")])),
    ("nullable", lambda: models.IntegerField(null=True)),
    ("unknown_nullable", lambda: Point(null=True)),
    ("fk", lambda: models.ForeignKey("Target", models.CASCADE)),
    ("fk_to_field", lambda: models.ForeignKey("Target", models.CASCADE, to_field="code")),
    ("one_to_one", lambda: models.OneToOneField("Target", models.CASCADE)),
    ("parent", lambda: models.ForeignKey("self", models.CASCADE, null=True)),
    ("m2m", lambda: models.ManyToManyField("Target")),
    ("uuid_pk", lambda: models.UUIDField(primary_key=True)),
    ("char_pk", lambda: models.CharField(primary_key=True, max_length=5)),
]


# Fields whose values are shorter than max_length: an address must stay one.
SHORTER = (models.EmailField, models.URLField, models.GenericIPAddressField)


@contextmanager
def model_with(name: str, make: Any, **options: Any) -> Iterator[type[models.Model]]:
    """Yield a model of the test app with one field, its tables created for the block."""
    with isolate_apps("tests.testapp"), ExitStack() as stack:
        target_meta = type("Meta", (), {"app_label": APP_LABEL, "db_table": "testapp_ex_target"})
        target = type(
            "Target",
            (models.Model,),
            {
                "code": models.CharField(max_length=10, unique=True),
                "Meta": target_meta,
                "__module__": __name__,
            },
        )
        meta = type("Meta", (), {"app_label": APP_LABEL, "db_table": "testapp_ex_field"})
        model = type(
            "Exercised",
            (models.Model,),
            {name: make(), "Meta": meta, "__module__": __name__, **options},
        )
        stack.enter_context(table_of(target))
        stack.enter_context(table_of(model))
        yield model


@pytest.mark.parametrize(("name", "make"), FIELDS, ids=[name for name, _ in FIELDS])
def test_generated_values_are_written_and_read_back(name: str, make: Any, db: None) -> None:
    with model_with(name, make) as model:
        # The exercise of the model runs every query.
        assert exercise_model(model, "default", Values(connection)) == []
        field = model._meta.get_field(name)
        values = Values(connection)
        with transaction.atomic():
            row = values.create(model, "default")
            again = model._base_manager.get(pk=row.pk)
            if field.many_to_many:
                return
            written = getattr(row, field.attname)
            read = getattr(again, field.attname)
            if isinstance(field, models.BinaryField):
                read = bytes(read)
            if name == "auto_now":
                assert isinstance(read, datetime.datetime)
            elif name in {"unknown_nullable", "parent"}:
                # Written NULL: an unknown type, a key back to the row's own model.
                assert written is None and read is None
            else:
                assert read == written, (written, read)
                assert written is not None
            if field.max_length and isinstance(written, (str, bytes)) and not field.choices:
                if not isinstance(field, SHORTER):
                    assert len(written) == field.max_length  # the column's whole length
            if isinstance(field, models.DecimalField):
                assert isinstance(written, Decimal)
                assert len(written.as_tuple().digits) == field.max_digits
            if name in {"small", "positive_small", "integer", "big"}:
                low, high = connection.ops.integer_field_range(field.get_internal_type())
                assert high - 100 < written <= high
            if name == "choices":
                assert written == "abc"
            if name == "uuid":
                assert isinstance(written, uuid.UUID)
            transaction.set_rollback(True)


def test_distinct_values_for_unique_fields(db: None) -> None:
    with model_with("char", FIELDS[17][1]) as model:
        values = Values(connection)
        with transaction.atomic():
            rows = [values.create(model, "default") for _ in range(40)]
            assert len({row.char for row in rows}) == 40
            transaction.set_rollback(True)


def test_a_field_without_a_value_leaves_its_model_unexercised(db: None) -> None:
    with model_with("point", lambda: Point()) as model, pytest.raises(Unsupported, match="point"):
        exercise_model(model, "default", Values(connection))


def test_a_column_narrower_than_the_model_fails_the_insert(db: None) -> None:
    with model_with("char", lambda: models.CharField(max_length=5)) as narrow:
        with isolate_apps("tests.testapp"):
            meta = type("Meta", (), {"app_label": APP_LABEL, "db_table": "testapp_ex_field"})
            wide = type(
                "Exercised",
                (models.Model,),
                {
                    "char": models.CharField(max_length=50),
                    "Meta": meta,
                    "__module__": __name__,
                },
            )
            failed = exercise_model(wide, "default", Values(connection))
        assert exercise_model(narrow, "default", Values(connection)) == []
    if connection.vendor == "sqlite":
        assert failed == []  # SQLite checks no length
    else:
        [(operation, error)] = failed
        assert operation == "insert" and type(error).__name__ == "DataError"


def test_the_applied_file_gives_the_deployed_state(empty_testapp: None, tmp_path: Any) -> None:
    case = next(c for c in CASES if c.fixture == "remove_not_null")
    with migration_module("initial", case.fixture):
        run("migrate", APP_LABEL, verbosity=0)
        run("makemigrations", APP_LABEL, interactive=False, stock=True, verbosity=0)
        path = tmp_path / "applied.txt"
        path.write_text(run("showmigrations", "--list").stdout)
        from_database = json.loads(verify("--format", "json", "--exercise")[1])
        from_file = json.loads(verify("--format", "json", "--exercise", "--applied", str(path))[1])
        # Only 0001 deployed: 0002 adds subtitle NOT NULL in the pre-deploy
        # stage, which the old release, without it, cannot insert into.
        path.write_text("testapp.0001_initial\n")
        earlier = json.loads(verify("--format", "json", "--exercise", "--applied", str(path))[1])
    book = ("after pre-deploy", "new", "testapp.Book", "insert")
    assert kinds(from_database["exercise"]["failures"]) == {book}
    assert from_file["exercise"]["failures"] == from_database["exercise"]["failures"]
    old_book = ("after pre-deploy", "old", "testapp.Book", "insert")
    assert kinds(earlier["exercise"]["failures"]) == {book, old_book}
    # And 0002's NOT NULL column without a default stops on the table's rows
    # (MariaDB fills them with '').
    stops = set() if connection.vendor == "mysql" else {("migration", "testapp.Book")}
    assert {(v["release"], v["model"]) for v in earlier["violations"]} == {
        ("old", "testapp.Book"),
        ("new", "testapp.Book"),
        *stops,
    }


def test_without_django_test_migrations_the_command_says_what_to_install(
    empty_testapp: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "django_test_migrations.migrator", None)
    with migration_module("initial"):
        run("migrate", APP_LABEL, verbosity=0)
        with pytest.raises(
            CommandError, match=r"pip install 'django-green-makemigrations\[verify\]'"
        ):
            call_command("verifystages", "--exercise", stdout=StringIO())
