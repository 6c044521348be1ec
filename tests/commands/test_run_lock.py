"""One migrate run at a time per database: two runs started together apply everything once.

Real processes: each run is ``manage.py migrate`` in a subprocess against the
test database, on every backend. The app's second migration takes a while and
counts its own executions in a table, so a migration applied twice shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection

from green_makemigrations.runlock import SQLITE_LOCK_SUFFIX, RunLockTimeout, migrate_run_lock

from .utils import execute, select, tables

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
SLOW = """\
import os
import time

from django.db import migrations

from green_makemigrations.constants import Stage


def record(apps, schema_editor):
    time.sleep({seconds})
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


@pytest.fixture
def project(tmp_path: Path, transactional_db: None) -> Iterator[Path]:
    """Write a project whose settings point at the test database, with lockapp."""
    app = tmp_path / APP
    (app / "migrations").mkdir(parents=True)
    (app / "__init__.py").touch()
    (app / "migrations" / "__init__.py").touch()
    (app / "models.py").write_text(MODELS)
    (app / "migrations" / "0001_initial.py").write_text(INITIAL)
    (app / "migrations" / "0002_slow.py").write_text(SLOW.format(seconds=1.5))
    database = {
        key: connection.settings_dict[key]
        for key in ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")
    }
    if connection.vendor == "sqlite":
        database["NAME"] = os.path.abspath(database["NAME"])
    (tmp_path / "lock_settings.py").write_text(
        textwrap.dedent(
            f"""\
            SECRET_KEY = "run-lock"
            INSTALLED_APPS = ["green_makemigrations", {APP!r}]
            DATABASES = {{"default": {database!r}}}
            USE_TZ = True
            DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
            """
        )
    )
    yield tmp_path
    execute(f"DELETE FROM django_migrations WHERE app = '{APP}'")
    if f"{APP}_run" in tables():
        execute(f"DROP TABLE {connection.ops.quote_name(f'{APP}_run')}")


def start_migrate(project: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="lock_settings", PYTHONPATH=str(project))
    return subprocess.Popen(
        [sys.executable, "-m", "django", "migrate", APP, "--no-color", *args],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


@pytest.mark.parametrize("stage_args", [(), ("--stage", "pre-deploy")], ids=["plain", "staged"])
def test_two_runs_started_together_apply_each_migration_once(
    project: Path, stage_args: tuple[str, ...]
) -> None:
    runs = [start_migrate(project, *stage_args) for _ in range(2)]
    outputs = [run.communicate(timeout=120)[0] for run in runs]
    for run, output in zip(runs, outputs, strict=True):
        assert run.returncode == 0, output
    assert select(f"SELECT COUNT(*) FROM {APP}_run") == [(1,)]
    recorded = select(
        f"SELECT name, COUNT(*) FROM django_migrations WHERE app = '{APP}' GROUP BY name"
    )
    assert sorted(recorded) == [("0001_initial", 1), ("0002_slow", 1)]
    waited = [output for output in outputs if "Another migrate run is in progress" in output]
    assert len(waited) == 1, outputs
    assert "reading the applied migrations again" in waited[0]
    assert "No migrations to apply" in waited[0]
    if connection.vendor == "sqlite":  # the lock file goes with the run that held it
        assert not Path(
            f"{os.path.abspath(connection.settings_dict['NAME'])}{SQLITE_LOCK_SUFFIX}"
        ).exists()


def test_a_run_gives_up_after_its_wait_and_changes_nothing(project: Path) -> None:
    holder = connection.copy()
    try:
        with migrate_run_lock(holder, 0):
            began = time.monotonic()
            run = start_migrate(project, "--run-lock-timeout", "1")
            output = run.communicate(timeout=60)[0]
            elapsed = time.monotonic() - began
    finally:
        holder.close()
    assert run.returncode == 1, output
    assert "still holds the run lock" in output
    assert "run the same command again" in output
    assert "Traceback" not in output
    assert 1 <= elapsed < 30
    assert f"{APP}_run" not in tables()
    assert select(f"SELECT COUNT(*) FROM django_migrations WHERE app = '{APP}'") == [(0,)]


def test_the_lock_is_free_again_after_a_run_and_after_a_killed_run(project: Path) -> None:
    (project / APP / "migrations" / "0002_slow.py").write_text(SLOW.format(seconds=30))
    killed = start_migrate(project)
    other = connection.copy()
    try:
        deadline = time.monotonic() + 30
        # Wait until the run holds the lock (it is in its slow migration).
        while time.monotonic() < deadline:
            try:
                with migrate_run_lock(other, 0):
                    pass
            except RunLockTimeout:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the migrate run never took the run lock")
        killed.kill()
        killed.communicate(timeout=30)
        with migrate_run_lock(other, 10):
            pass  # taken at once: the killed run's lock went with its process
    finally:
        other.close()
