"""verifystages end to end: its verdict before a deploy is what the releases then meet.

Each removal case of test_removals.py is deployed (the previous release's
history migrated), then makemigrations writes the new release's migrations,
the package's or stock Django's (``--stock``). verifystages must change
nothing, and its verdict must be what follows: after ``migrate --stage
pre-deploy`` the new release's insert fails exactly when the proof said it
would, with the migration, moment, table and column it named.
"""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.db.migrations.autodetector import MigrationAutodetector
from django.test.utils import CaptureQueriesContext, override_settings

from green_makemigrations.autodetector import GreenMigrationAutodetector
from green_makemigrations.management.commands import makemigrations

from .test_removals import CASES, SOME_CASES, Removal, write_new
from .utils import (
    APP_LABEL,
    applied,
    columns,
    historical_apps,
    migration_module,
    run,
    tables,
    verify,
)

pytestmark = pytest.mark.django_db(transaction=True)


def snapshot(case: Removal) -> tuple[Any, ...]:
    """Return what verifystages must leave as it is."""
    return (sorted(tables()), sorted(applied()), columns(case.table) if case.column else None)


def new_release_writes(case: Removal) -> str | None:
    """Insert a row with the new release's model; return the error, if any."""
    try:
        with transaction.atomic():
            write_new(case, "new release")
    except DatabaseError as error:
        return str(error)
    return None


@pytest.mark.parametrize("flavour", ["green", "stock"])
@pytest.mark.parametrize("case", SOME_CASES, ids=lambda case: case.fixture)
def test_verdict_is_what_the_deploy_meets(case: Removal, flavour: str, empty_testapp: None) -> None:
    with migration_module("initial", case.fixture) as module:
        run("migrate", APP_LABEL, verbosity=0)
        run("makemigrations", APP_LABEL, interactive=False, stock=flavour == "stock", verbosity=0)
        written = [m for m in module.files() if m not in {"0001_initial", case.previous}]
        before = snapshot(case)
        status, output = verify("--format", "json")
        assert snapshot(case) == before
        report = json.loads(output)
        # The package's plans are proven; stock Django's breaks the new release
        # exactly where the package writes a pre-deploy prep.
        breaks = flavour == "stock" and case.prep is not None
        assert (status, report["proven"]) == ((1, False) if breaks else (0, True)), output
        assert report["not_proven"] == [] and report["refused"] == []
        if breaks:
            [violation] = report["violations"]
            assert violation["release"] == "new"
            assert violation["moment"] == "after pre-deploy"
            assert violation["rule"] == "no-value"
            assert (violation["table"], violation["column"]) == (case.table, case.column)
            assert violation["migration"] == f"{APP_LABEL}.{written[-1]}"
            assert case.table in violation["query"]
            assert "default" in violation["fix"] or "pre-deploy" in violation["fix"]

        if breaks:
            # migrate --stage pre-deploy proves the plan first and stops, changing nothing.
            with pytest.raises(CommandError, match="refuses to start") as refusal:
                run("migrate", APP_LABEL, stage="pre-deploy", verbosity=0)
            assert violation["problem"] in str(refusal.value)
            assert snapshot(case) == before
        run("migrate", APP_LABEL, stage="pre-deploy", verbosity=0, skip_verify=breaks)
        failure = new_release_writes(case)
        assert (failure is not None) is breaks, failure
        # The old release, still running, writes as ever.
        case.write_old(historical_apps(case.previous), "old release")
        run("migrate", APP_LABEL, stage="post-deploy", verbosity=0)
        assert new_release_writes(case) is None
        assert verify()[0] == 0


def test_applied_file_gives_the_database_verdict_without_a_query(
    empty_testapp: None, tmp_path: Path
) -> None:
    case = next(c for c in CASES if c.fixture == "remove_not_null")
    with migration_module("initial", case.fixture):
        run("migrate", APP_LABEL, verbosity=0)
        run("makemigrations", APP_LABEL, interactive=False, stock=True, verbosity=0)
        listing = run("showmigrations", "--list").stdout
        from_database = verify("--format", "json")
        for name, text in {
            "showmigrations.txt": listing,
            "lines.txt": "\n".join(
                f"{app}.{name}  # applied" for app, name in _applied_everywhere()
            ),
            "applied.json": json.dumps([list(key) for key in _applied_everywhere()]),
        }.items():
            path = tmp_path / name
            path.write_text(text)
            with CaptureQueriesContext(connection) as queries:
                from_file = verify("--format", "json", "--applied", str(path))
            assert from_file == from_database, name
            assert len(queries) == 0, [q["sql"] for q in queries]
        assert from_database[0] == 1


def _applied_everywhere() -> list[tuple[str, str]]:
    from django.db.migrations.recorder import MigrationRecorder

    return sorted(MigrationRecorder(connection).applied_migrations())


def test_applied_file_naming_unknown_migrations_is_refused(
    empty_testapp: None, tmp_path: Path
) -> None:
    path = tmp_path / "applied.txt"
    path.write_text("testapp.0001_initial\ntestapp.0099_from_another_branch\n")
    with migration_module("initial"), pytest.raises(CommandError) as error:
        call_command("verifystages", "--applied", str(path), stdout=StringIO())
    assert "testapp.0099_from_another_branch" in str(error.value)
    assert "0001_initial" not in str(error.value).split("have:")[1]


def test_annotations_point_at_the_migration_file(empty_testapp: None) -> None:
    case = next(c for c in CASES if c.fixture == "remove_not_null")
    with migration_module("initial", case.fixture) as module:
        run("migrate", APP_LABEL, verbosity=0)
        run("makemigrations", APP_LABEL, interactive=False, stock=True, verbosity=0)
        [name] = [m for m in module.files() if m not in {"0001_initial", case.previous}]
        status, github = verify("--format", "github")
        assert status == 1
        [line] = github.splitlines()
        assert line.startswith("::error file=")
        path = line.removeprefix("::error file=").split(",line=1,")[0]
        assert Path(path).resolve() == (module.path / f"{name}.py").resolve()
        assert "subtitle" in line and "\n" not in line
        status, gitlab = verify("--format", "gitlab")
        [issue] = json.loads(gitlab)
        assert issue["location"]["path"] == path
        assert issue["check_name"] == "no-value" and issue["severity"] == "critical"
        assert len(issue["fingerprint"]) == 64


RUN_SQL = """from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("testapp", "0001_initial")]
    operations = [
        migrations.RunSQL(
            "UPDATE testapp_book SET title = title", migrations.RunSQL.noop{hints}
        )
    ]
"""


@pytest.mark.parametrize(
    ("hints", "options", "setting", "proven"),
    [
        ("", (), None, False),
        (', hints={"schema_effect": []}', (), None, True),
        ("", ("--accept", "testapp.0002_touch"), None, True),
        ("", (), ["testapp.0002_touch"], True),
        ("", ("--accept", "testapp.0001_initial"), None, False),
    ],
)
def test_run_sql_is_not_proven_unless_declared_or_accepted(
    hints: str,
    options: tuple[str, ...],
    setting: list[str] | None,
    proven: bool,
    empty_testapp: None,
) -> None:
    with migration_module("initial") as module:
        run("migrate", APP_LABEL, verbosity=0)
        (module.path / "0002_touch.py").write_text(RUN_SQL.format(hints=hints))
        with override_settings(GREEN_MAKEMIGRATIONS={"VERIFY_ACCEPT": setting or []}):
            status, output = verify("--format", "json", *options)
    report = json.loads(output)
    assert (status == 0, report["proven"]) == (proven, proven)
    unproven = report["not_proven"]
    if proven:
        assert unproven == []
        assert len(report["accepted"]) == (0 if hints else 1)
    else:
        [entry] = unproven
        assert entry["migration"] == "testapp.0002_touch" and entry["operation_index"] == 1
        assert entry["stage"] == "pre_deploy"
        assert "schema_effect" in entry["reason"] and "VERIFY_ACCEPT" in entry["reason"]


STATE_ONLY_RENAME = """from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("testapp", "0001_initial")]
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RenameField("book", "title", "name")],
            database_operations={database},
        )
    ]
"""


@pytest.mark.parametrize(
    ("database", "broken"),
    [
        # The new release's "name" has no column, and the column of its
        # "title" (which it no longer writes) is still NOT NULL.
        ("[]", {("new", "missing-column", "name"), ("new", "no-value", "title")}),
        (
            '[migrations.RenameField("book", "title", "name")]',
            # The old release reads "title", gone, and leaves out "name", NOT NULL.
            {("old", "missing-column", "title"), ("old", "no-value", "name")},
        ),
        (
            '[migrations.AddField("book", "name", __import__("django").db.models.'
            "CharField(max_length=100, null=True))]",
            {("new", "no-value", "title")},
        ),
    ],
)
def test_separate_database_and_state_is_followed_on_its_database_side(
    database: str, broken: set[tuple[str, str, str]], empty_testapp: None
) -> None:
    with migration_module("initial") as module:
        run("migrate", APP_LABEL, verbosity=0)
        (module.path / "0002_rename.py").write_text(STATE_ONLY_RENAME.format(database=database))
        status, output = verify("--format", "json")
    report = json.loads(output)
    found = {(v["release"], v["rule"], v["column"]) for v in report["violations"]}
    assert status == 1 and found == broken, output
    for violation in report["violations"]:
        assert violation["migration"] == "testapp.0002_rename", violation
        assert violation["moment"] == (
            "during pre-deploy" if violation["release"] == "old" else "after pre-deploy"
        )


def test_first_deploy_is_proven(empty_testapp: None) -> None:
    case = next(c for c in CASES if c.fixture == "remove_not_null")
    with migration_module("initial", case.fixture):
        run("makemigrations", APP_LABEL, interactive=False, stock=True, verbosity=0)
        # Nothing of the app applied: no release uses its tables yet.
        status, output = verify("--format", "json")
    assert status == 0, output
    assert json.loads(output)["violations"] == []


class SkippingPrep(GreenMigrationAutodetector):
    """An autodetector with a gap: it removes a field without its pre-deploy prep."""

    def _generate_removed_field(self, app_label: str, model_name: str, field_name: str) -> None:
        MigrationAutodetector._generate_removed_field(self, app_label, model_name, field_name)


@pytest.fixture
def gap(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give makemigrations an autodetector that misses the prep of a removal."""
    monkeypatch.setattr(makemigrations.Command, "autodetector", SkippingPrep)


def test_makemigrations_refuses_what_it_cannot_prove(empty_testapp: None, gap: None) -> None:
    case = next(c for c in CASES if c.fixture == "remove_not_null")
    with migration_module("initial", case.fixture) as module:
        before = module.files()
        with pytest.raises(CommandError) as error:
            run("makemigrations", APP_LABEL, interactive=False)
        message = str(error.value)
        assert message.startswith("makemigrations refuses to write migrations it cannot prove")
        assert "the new release breaks" in message
        assert "column subtitle of testapp_book is NOT NULL" in message
        assert "--skip-verify" in message and "Nothing was written." in message
        assert module.files() == before
        # --dry-run and --check print the proof and refuse nothing.
        output = run("makemigrations", APP_LABEL, dry_run=True, interactive=False).stdout
        assert "VIOLATION" in output and "column subtitle" in output
        assert module.files() == before
        # Turned off for a run, or by the setting: written as the autodetector says.
        run("makemigrations", APP_LABEL, interactive=False, skip_verify=True, verbosity=0)
        assert len(module.files()) == len(before) + 1


def test_the_verify_setting_turns_the_proof_off(empty_testapp: None, gap: None) -> None:
    case = next(c for c in CASES if c.fixture == "remove_not_null")
    with (
        migration_module("initial", case.fixture) as module,
        override_settings(GREEN_MAKEMIGRATIONS={"VERIFY": False}),
    ):
        before = module.files()
        run("makemigrations", APP_LABEL, interactive=False, verbosity=0)
        assert len(module.files()) == len(before) + 1
        run("migrate", APP_LABEL, "0002_book_subtitle", verbosity=0)
        # migrate --stage pre-deploy does not prove either.
        run("migrate", APP_LABEL, stage="pre-deploy", verbosity=0)


def test_makemigrations_writes_what_it_proves_without_a_word(empty_testapp: None) -> None:
    case = next(c for c in CASES if c.fixture == "remove_not_null")
    with migration_module("initial", case.fixture) as module:
        before = module.files()
        output = run("makemigrations", APP_LABEL, interactive=False).stdout
        assert len(module.files()) == len(before) + 2
        assert "proof" not in output and "VIOLATION" not in output


def proof_warnings(number: str) -> list[Any]:
    """Return the W003/W004 messages of the database checks."""
    from django.core.checks import run_checks

    return [
        m
        for m in run_checks(databases=["default"], include_deployment_checks=False)
        if m.id == f"green_makemigrations.{number}"
    ]


@pytest.mark.parametrize("flavour", ["green", "stock"])
def test_system_check_warns_of_an_unproven_pending_plan(flavour: str, empty_testapp: None) -> None:
    case = next(c for c in CASES if c.fixture == "remove_not_null")
    with migration_module("initial", case.fixture) as module:
        run("migrate", APP_LABEL, verbosity=0)
        run("makemigrations", APP_LABEL, interactive=False, stock=flavour == "stock", verbosity=0)
        found = proof_warnings("W003")
        if flavour == "green":
            assert found == []
            return
        [warning] = found
        assert warning.msg.startswith("Database 'default': testapp.0003_")
        assert "the new release breaks: column subtitle of testapp_book is NOT NULL" in warning.msg
        assert warning.obj is not None and warning.obj.name == module.files()[-1]
        assert "pre-deploy" in warning.hint
        with override_settings(GREEN_MAKEMIGRATIONS={"VERIFY": False}):
            assert proof_warnings("W003") == []


def test_system_check_warns_of_an_operation_it_cannot_prove(empty_testapp: None) -> None:
    with migration_module("initial") as module:
        run("migrate", APP_LABEL, verbosity=0)
        (module.path / "0002_touch.py").write_text(RUN_SQL.format(hints=""))
        [warning] = proof_warnings("W004")
    assert warning.msg == (
        "Database 'default': testapp.0002_touch, operation 1 (Raw SQL operation, pre_deploy) "
        "is not proven."
    )
    assert "schema_effect" in warning.hint


@pytest.mark.parametrize("flavour", ["green", "stock"])
@pytest.mark.parametrize("case", SOME_CASES, ids=lambda case: case.fixture)
def test_rollback_verdict_is_what_the_rollback_meets(
    case: Removal, flavour: str, empty_testapp: None
) -> None:
    """The mirror image: the release rolled back runs while the rollback's pre-deploy stage does."""
    with migration_module("initial", case.fixture):
        run("migrate", APP_LABEL, verbosity=0)
        run("makemigrations", APP_LABEL, interactive=False, stock=flavour == "stock", verbosity=0)
        run("migrate", APP_LABEL, verbosity=0)
        status, output = verify(APP_LABEL, case.previous, "--format", "json")
        report = json.loads(output)
        assert report["rollback"] is True
        # Un-applying Django's drop adds the column back NOT NULL without a
        # default while the release without the field still runs.
        breaks = flavour == "stock" and case.prep is not None
        # Where the undoing itself stops on the table's rows is the next test's.
        releases = [v for v in report["violations"] if v["release"] != "migration"]
        stops = len(report["violations"]) - len(releases)
        assert bool(releases) is breaks, output
        assert (status, report["proven"]) == ((1, False) if breaks or stops else (0, True))
        if breaks:
            [violation] = releases
            assert (violation["release"], violation["moment"]) == ("old", "during pre-deploy")
            assert (violation["table"], violation["column"]) == (case.table, case.column)
        run("migrate", APP_LABEL, case.previous, stage="pre-deploy", skip_verify=True, verbosity=0)
        failure = new_release_writes(case)
        assert (failure is not None) is breaks, failure


@pytest.mark.parametrize("flavour", ["green", "stock"])
@pytest.mark.parametrize("case", SOME_CASES, ids=lambda case: case.fixture)
def test_rollback_stops_on_rows_where_the_proof_says(
    case: Removal, flavour: str, empty_testapp: None
) -> None:
    """Undoing a drop adds the column back to a table with rows: it stops where the proof says.

    Django's undoing of a RemoveField is an AddField of the field as it was:
    NOT NULL without a default, it cannot fill the rows (except on MariaDB,
    which fills the type's implicit default); the package's drops follow a
    pre-deploy prep (nullable, or a database default) that it undoes with.
    """
    with migration_module("initial", case.fixture):
        run("migrate", APP_LABEL, verbosity=0)
        run("makemigrations", APP_LABEL, interactive=False, stock=flavour == "stock", verbosity=0)
        run("migrate", APP_LABEL, verbosity=0)
        if case.table in tables():
            write_new(case, "first row")
            write_new(case, "second row")
        status, output = verify(APP_LABEL, case.previous, "--format", "json")
        report = json.loads(output)
        stops = [v for v in report["violations"] + report["caveats"] if v["release"] == "migration"]
        try:
            run("migrate", APP_LABEL, case.previous, skip_verify=True, verbosity=0)
        except (CommandError, DatabaseError) as error:
            stopped: str | None = str(error)
        else:
            stopped = None
        assert bool(stops) is (stopped is not None), f"{output}\nrollback: {stopped or 'ran'}"
        for stop in stops:
            assert (stop["table"], stop["column"]) == (case.table, case.column), output
            assert stop["moment"] in ("during pre-deploy", "during post-deploy")
            # Undoing a nullable prep over NULLs is a caveat (a re-run after a
            # backfill finishes it); the others fail the proof.
            assert (stop in report["caveats"]) is (stop["rule"] == "null-refill")
            assert status == (1 if report["violations"] else 0)


def test_unknown_operations_of_an_app_no_release_uses_are_accepted(empty_testapp: None) -> None:
    # Nothing of the test app is applied and its tables are gone: no running
    # release can meet what its RunSQL does.
    with migration_module("initial") as module:
        (module.path / "0002_touch.py").write_text(RUN_SQL.format(hints=""))
        status, output = verify("--format", "json")
    report = json.loads(output)
    assert (status, report["not_proven"]) == (0, []), output
    assert [entry["migration"] for entry in report["accepted"]] == ["testapp.0002_touch"]
