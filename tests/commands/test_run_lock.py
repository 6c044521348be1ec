"""One migrate run at a time per database: two runs started together apply everything once.

Real processes: each run is ``manage.py migrate`` in a subprocess against the
test database, on every backend. The app's second migration takes a while and
counts its own executions in a table, so a migration applied twice shows.
Runs on two different databases do not wait for each other: a second
database on the same server, or the test settings' "other" alias (another
backend, or another SQLite file).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import ConnectionHandler

from green_makemigrations.runlock import SQLITE_LOCK_SUFFIX, RunLockTimeout, migrate_run_lock
from tests.rehearsal import harness

from .utils import select, tables

APP = "lockapp"
INITIAL = """\
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(
            name="Run",
            fields=[("id", models.AutoField(primary_key=True)), ("pid", models.IntegerField())],
        ),
    ]
"""
# The second migration holds its run until the test lets it go, so the test
# decides how the runs overlap, however slowly the processes start.
HELD = """\
import os
import time
from pathlib import Path

from django.db import migrations

from green_makemigrations.constants import Stage


def record(apps, schema_editor):
    signals = Path(os.environ["LOCK_TEST_SIGNALS"])
    (signals / f"started-{os.getpid()}").touch()
    deadline = time.monotonic() + 60
    while not (signals / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    apps.get_model("lockapp", "Run").objects.using(schema_editor.connection.alias).create(
        pid=os.getpid()
    )


class Migration(migrations.Migration):
    stage = Stage.PRE_DEPLOY
    dependencies = [("lockapp", "0001_initial")]
    operations = [migrations.RunPython(record, migrations.RunPython.noop)]
"""
MODELS = """\
from django.db import models


class Run(models.Model):
    pid = models.IntegerField()
"""


def settings_entry(database: BaseDatabaseWrapper) -> dict[str, Any]:
    """Return the DATABASES entry of a project whose runs connect where database does."""
    entry = {
        key: database.settings_dict[key]
        for key in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")
    }
    if database.vendor == "sqlite":
        entry["NAME"] = os.path.abspath(entry["NAME"])
    return entry


def forget_lockapp(database: BaseDatabaseWrapper) -> None:
    """Drop lockapp's table from database and forget its migrations there."""
    with database.cursor() as cursor:
        if "django_migrations" in database.introspection.table_names(cursor):
            cursor.execute(f"DELETE FROM django_migrations WHERE app = '{APP}'")
        if f"{APP}_run" in database.introspection.table_names(cursor):
            cursor.execute(f"DROP TABLE {database.ops.quote_name(f'{APP}_run')}")


@pytest.fixture
def second(
    request: pytest.FixtureRequest, tmp_path: Path, transactional_db: None
) -> Iterator[BaseDatabaseWrapper]:
    """Return a connection to the database of the project's alias "second".

    The test's parameter says which: "same" (the test database, under a
    second alias), "sibling" (a new database on the test database's server,
    dropped after), "other" (the test settings' "other" alias).
    """
    kind = getattr(request, "param", "same")
    if kind == "same":
        yield connection
        return
    if kind == "other":
        other = connections["other"]
        try:
            yield other
        finally:
            forget_lockapp(other)
        return
    entry = harness.rehearsal_database(connection.settings_dict, "lock", tmp_path)
    harness.reset_database(entry)
    sibling = ConnectionHandler({"default": entry})["default"]
    try:
        yield sibling
    finally:
        sibling.close()
        harness.reset_database(entry, create=False)


@pytest.fixture
def project(tmp_path: Path, second: BaseDatabaseWrapper) -> Iterator[Path]:
    """Write a project whose settings point at the test database, with lockapp.

    Its alias "second" names the second fixture's database.
    """
    app = tmp_path / APP
    (app / "migrations").mkdir(parents=True)
    (app / "__init__.py").touch()
    (app / "migrations" / "__init__.py").touch()
    (app / "models.py").write_text(MODELS)
    (app / "migrations" / "0001_initial.py").write_text(INITIAL)
    (app / "migrations" / "0002_held.py").write_text(HELD)
    (tmp_path / "signals").mkdir()
    databases = {"default": settings_entry(connection), "second": settings_entry(second)}
    (tmp_path / "lock_settings.py").write_text(
        textwrap.dedent(
            f"""\
            SECRET_KEY = "run-lock"
            INSTALLED_APPS = ["green_makemigrations", {APP!r}]
            DATABASES = {databases!r}
            USE_TZ = True
            DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
            """
        )
    )
    yield tmp_path
    forget_lockapp(connection)


class Run:
    """A ``migrate`` subprocess against the test database, its output collected as it comes."""

    def __init__(self, project: Path, *args: str) -> None:
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="lock_settings",
            PYTHONPATH=str(project),
            PYTHONUNBUFFERED="1",
            LOCK_TEST_SIGNALS=str(project / "signals"),
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "django", "migrate", APP, "--no-color", *args],
            cwd=project,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        assert self.process.stdout is not None
        self.reader = threading.Thread(target=self.lines.extend, args=(self.process.stdout,))
        self.reader.start()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait(self) -> int:
        returncode = self.process.wait(timeout=120)
        self.reader.join(timeout=10)
        return returncode


def started(project: Path) -> int:
    """Return how many runs are inside the held migration."""
    return len(list((project / "signals").glob("started-*")))


def wait_until(condition: Callable[[], bool], what: str, runs: list[Run]) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within 60 s: {[run.output for run in runs]}")
        time.sleep(0.02)


def rows(database: BaseDatabaseWrapper, sql: str) -> list[tuple[Any, ...]]:
    with database.cursor() as cursor:
        cursor.execute(sql)
        return sorted(tuple(row) for row in cursor.fetchall())


STAGED = ("--stage", "pre-deploy")


@pytest.mark.parametrize(
    ("stage_args", "second"),
    [
        pytest.param((), "same", id="plain-same"),
        pytest.param(STAGED, "same", id="staged-same"),
        pytest.param(STAGED, "sibling", id="staged-sibling"),
        pytest.param(
            STAGED,
            "other",
            id="staged-other",
            marks=pytest.mark.django_db(transaction=True, databases=["default", "other"]),
        ),
    ],
    indirect=["second"],
)
def test_two_runs_started_together_apply_each_migration_once(
    project: Path, second: BaseDatabaseWrapper, stage_args: tuple[str, ...]
) -> None:
    """The first run migrates "default", the second "second": one database waits, two do not."""
    runs = [Run(project, *stage_args), Run(project, *stage_args, "--database", "second")]
    same = second is connection
    try:
        if same:
            # One run is inside the migration and the other waits for it: never both inside.
            def one_inside_one_waiting() -> bool:
                assert started(project) < 2, "both runs entered the migration"
                waiting = any("Another migrate run is in progress" in run.output for run in runs)
                return started(project) == 1 and waiting

            wait_until(
                one_inside_one_waiting, "one run holding the lock while the other waits", runs
            )
        else:
            wait_until(lambda: started(project) == 2, "both runs inside the migration", runs)
    finally:
        (project / "signals" / "release").touch()
    for run in runs:
        assert run.wait() == 0, run.output
    once = [("0001_initial", 1), ("0002_held", 1)]
    for database in [connection] if same else [connection, second]:
        assert rows(database, f"SELECT COUNT(*) FROM {APP}_run") == [(1,)]
        recorded = f"SELECT name, COUNT(*) FROM django_migrations WHERE app = '{APP}' GROUP BY name"
        assert rows(database, recorded) == once
    waited = [run.output for run in runs if "Another migrate run is in progress" in run.output]
    assert len(waited) == (1 if same else 0), [run.output for run in runs]
    if same:
        assert "reading the applied migrations again" in waited[0]
        assert "No migrations to apply" in waited[0]
    for database in (connection, second):
        if database.vendor == "sqlite":  # the lock file goes with the run that held it
            name = os.path.abspath(database.settings_dict["NAME"])
            assert not Path(f"{name}{SQLITE_LOCK_SUFFIX}").exists()


def test_a_run_gives_up_after_its_wait_and_changes_nothing(project: Path) -> None:
    holder = connection.copy()
    try:
        with migrate_run_lock(holder, 0):
            began = time.monotonic()
            run = Run(project, "--run-lock-timeout", "1")
            returncode = run.wait()
            elapsed = time.monotonic() - began
    finally:
        holder.close()
    output = run.output
    assert returncode == 1, output
    assert "still holds the run lock" in output
    assert "run the same command again" in output
    assert "Traceback" not in output
    assert 1 <= elapsed < 30
    assert f"{APP}_run" not in tables()
    assert select(f"SELECT COUNT(*) FROM django_migrations WHERE app = '{APP}'") == [(0,)]


def test_a_killed_run_releases_the_lock_at_once(project: Path) -> None:
    killed = Run(project)
    wait_until(lambda: started(project) == 1, "the run entering its migration", [killed])
    other = connection.copy()
    try:
        with pytest.raises(RunLockTimeout):  # held while the run lives
            with migrate_run_lock(other, 0):
                pass
        killed.process.kill()
        killed.wait()
        with migrate_run_lock(other, 10):
            pass  # free: the killed run's lock went with its process (or session)
    finally:
        other.close()
        (project / "signals" / "release").touch()


def test_a_run_nested_in_a_run_shares_its_lock(transactional_db: None) -> None:
    # A migrate called from inside a migrate (a RunPython, a post_migrate
    # handler) on the same connection must not wait for itself; on SQLite a
    # second flock() of the file would.
    other = connection.copy()
    try:
        with migrate_run_lock(connection, 0), migrate_run_lock(connection, 0):
            with pytest.raises(RunLockTimeout):  # still held against others
                with migrate_run_lock(other, 0):
                    pass
        with migrate_run_lock(other, 0):
            pass  # released once the outermost run ended
    finally:
        other.close()
