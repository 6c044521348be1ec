"""Deploy rehearsal harness: temporary projects, worker processes, deploy phases.

A rehearsal writes a small Django project per release into a temporary
directory, runs the real ``makemigrations`` and ``migrate`` commands in
subprocesses, and runs each release's code in its own worker process: a loop
of ORM queries on every model of the app that counts every failed query.

The test process imports this module for the project writer, the worker
launcher and the phase runner; the workers run it as a script
(``python harness.py worker ...`` and ``python harness.py introspect ...``)
with the release's directory on ``sys.path``. Django is only imported inside
the functions that need it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import pprint
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HARNESS = Path(__file__).resolve()
SOURCE_ROOT = HARNESS.parents[2]  # the checkout holding green_makemigrations/ and tests/
RELEASES = HARNESS.parent / "releases"
APP_LABEL = "shop"
SETTINGS_MODULE = "rehearsal_settings"

# Each phase lasts until every worker in it did MIN_OPS queries after the
# phase's command finished (and at least PHASE_SECONDS passed).
MIN_OPS = 20
PHASE_SECONDS = 0.3
PHASE_TIMEOUT = 30.0
COMMAND_TIMEOUT = 120.0
# A worker stops by itself after this many seconds or iterations, whatever
# happens to the test process; SIGALRM kills it a little later if a query hangs.
WORKER_HARD_LIMIT = 90.0
WORKER_MAX_ITERATIONS = 20_000
# Kept error texts per model, so a broken run does not write megabytes.
MAX_ERRORS_PER_MODEL = 10

_worker_ids = itertools.count(1)


class RehearsalError(Exception):
    """A command or worker of the rehearsal failed (not an assertion of a test)."""


class WrongResult(Exception):
    """A query of a worker ran without error but did not do what the code relies on."""


# ---------------------------------------------------------------------------
# Databases


def database_name(suffix: str) -> str:
    """Return the name of a rehearsal database, derived from GREEN_TEST_DB_NAME."""
    base = os.environ.get("GREEN_TEST_DB_NAME") or "test_green_rehearsal"
    return f"{base}_{suffix}"


def rehearsal_database(default: dict[str, Any], suffix: str, directory: Path) -> dict[str, Any]:
    """Return a DATABASES entry for a rehearsal database on the server of default.

    SQLite gets a file in directory and Django's defaults otherwise, as most
    users have them: transactions begin DEFERRED and the busy timeout is
    Python's 5 s, so ``migrate`` must take the write lock before it reads to
    wait for the workers' writes (and they for its). The file is in WAL mode
    (see reset_database), so readers do not queue behind writers, and commits
    skip the fsync of every transaction.
    """
    engine = default["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        return {
            "ENGINE": engine,
            "NAME": str(directory / f"{database_name(suffix)}.sqlite3"),
            "OPTIONS": {
                "init_command": "PRAGMA synchronous=NORMAL",
            },
        }
    database = {
        key: default[key]
        for key in ("ENGINE", "USER", "PASSWORD", "HOST", "PORT", "OPTIONS")
        if key in default
    }
    database["NAME"] = database_name(suffix)
    return database


def _server_statements(database: dict[str, Any], create: bool) -> list[str]:
    name = database["NAME"]
    if database["ENGINE"] == "django.db.backends.postgresql":
        # FORCE ends the sessions of workers a crashed run may have left.
        statements = [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)']
        if create:
            statements.append(f'CREATE DATABASE "{name}"')
        return statements
    statements = [f"DROP DATABASE IF EXISTS `{name}`"]
    if create:
        statements.append(
            f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    return statements


def reset_database(database: dict[str, Any], create: bool = True) -> None:
    """Drop the rehearsal database, and create it empty again if create.

    The caller must allow database access (pytest-django's django_db_blocker).
    """
    if database["ENGINE"] == "django.db.backends.sqlite3":
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(database["NAME"] + suffix).unlink(missing_ok=True)
        if create:
            # WAL mode is stored in the file: every connection uses it.
            with closing(sqlite3.connect(database["NAME"])) as connection:
                connection.execute("PRAGMA journal_mode=WAL")
        return
    from django.db.utils import ConnectionHandler

    connection = ConnectionHandler({"default": database})["default"]
    try:
        with connection._nodb_cursor() as cursor:
            for statement in _server_statements(database, create):
                cursor.execute(statement)
    finally:
        connection.close()


# ---------------------------------------------------------------------------
# Projects

MANAGE_PY = """\
import os
import sys

if __name__ == "__main__":
    os.environ["DJANGO_SETTINGS_MODULE"] = "rehearsal_settings"
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

SETTINGS_TEMPLATE = """\
SECRET_KEY = "deploy-rehearsal"
INSTALLED_APPS = ["green_makemigrations", {app_label!r}]
DATABASES = {{"default": {database}}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
"""


def release_source(name: str) -> str:
    """Return the text of a release's models.py from tests/rehearsal/releases/."""
    return (RELEASES / f"{name}.py").read_text()


def subprocess_env() -> dict[str, str]:
    """Return the environment of every rehearsal subprocess."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    # No .pyc: models.py is rewritten in place between makemigrations runs.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # The package under test, not the one the venv installed (editable, from
    # another checkout, in a git worktree): its checkout comes first.
    env["PYTHONPATH"] = str(SOURCE_ROOT)
    return env


@dataclass
class Project:
    """A temporary Django project holding one release of the app."""

    path: Path
    database: dict[str, Any]
    app_label: str = APP_LABEL

    @classmethod
    def create(
        cls,
        path: Path,
        database: dict[str, Any],
        models_source: str,
        app_label: str = APP_LABEL,
        others: dict[str, dict[str, Any]] | None = None,
        settings: str = "",
    ) -> Project:
        """Write manage.py, the settings and the app (without migrations yet).

        others are more DATABASES entries by alias; settings is more text
        of the settings module (DATABASE_ROUTERS, say).
        """
        migrations = path / app_label / "migrations"
        migrations.mkdir(parents=True)
        (migrations / "__init__.py").write_text("")
        (path / app_label / "__init__.py").write_text("")
        (path / "manage.py").write_text(MANAGE_PY)
        text = SETTINGS_TEMPLATE.format(app_label=app_label, database=pprint.pformat(database))
        if others:
            text += f"DATABASES.update({pprint.pformat(others)})\n"
        (path / f"{SETTINGS_MODULE}.py").write_text(text + settings)
        project = cls(path, database, app_label)
        project.write_models(models_source)
        return project

    def copy(self, path: Path, models_source: str) -> Project:
        """Return the next release: this project's files with a new models.py."""
        shutil.copytree(self.path, path, ignore=shutil.ignore_patterns("__pycache__"))
        project = Project(path, self.database, self.app_label)
        project.write_models(models_source)
        return project

    def write_models(self, source: str) -> None:
        """Replace the app's models.py."""
        (self.path / self.app_label / "models.py").write_text(source)

    def manage(
        self,
        *args: str,
        check: bool = True,
        timeout: float = COMMAND_TIMEOUT,
        env: dict[str, str] | None = None,
        answers: list[str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python manage.py *args`` in the project; fail loudly if check and it fails.

        answers are the lines typed at the command's prompts, one per
        question; without them stdin is empty, so an unexpected question
        ends the command (EOFError) instead of waiting.
        """
        started = time.monotonic()
        completed = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.path,
            env=subprocess_env() | (env or {}),
            input="".join(f"{answer}\n" for answer in answers or []),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        shown = " ".join(arg if len(arg) < 60 else f"{arg[:40].strip()}..." for arg in args)
        print(f"{self.path.name}: manage.py {shown}: {time.monotonic() - started:.2f} s")
        for line in completed.stdout.splitlines():
            if "could not get a lock" in line:  # the stage's lock timeout, retried
                print(f"  {line.strip()}")
        if check and completed.returncode != 0:
            raise RehearsalError(
                f"manage.py {' '.join(args)} failed in {self.path.name} "
                f"(exit {completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
            )
        return completed

    def shell(self, code: str) -> Any:
        """Run code with this release's models (``manage.py shell -c``); return its JSON output.

        code prints one JSON document as the last line of its output.
        """
        completed = self.manage("shell", "--no-imports", "-c", code)
        return json.loads(completed.stdout.strip().splitlines()[-1])

    def migration_names(self) -> list[str]:
        """Return the names of the app's migration files, in order."""
        folder = self.path / self.app_label / "migrations"
        return sorted(p.stem for p in folder.glob("[0-9]*.py"))

    def migration_names_of_stage(self, stage: str) -> list[str]:
        """Return the names of the app's migrations whose file says stage ("PRE_DEPLOY")."""
        return [
            name
            for name in self.migration_names()
            if f"    stage = Stage.{stage}\n" in self.migration_text(name)
        ]

    def migration_text(self, name: str) -> str:
        """Return the text of one of the app's migration files."""
        return (self.path / self.app_label / "migrations" / f"{name}.py").read_text()

    def schema(self, database: str = "default") -> Schema:
        """Return the tables, columns and constraints of database (an alias), from a subprocess."""
        started = time.monotonic()
        completed = subprocess.run(
            [
                sys.executable,
                str(HARNESS),
                "introspect",
                "--project",
                str(self.path),
                "--database",
                database,
            ],
            cwd=self.path,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        if completed.returncode != 0:
            raise RehearsalError(f"introspection failed:\n{completed.stderr}")
        print(f"{self.path.name}: introspection: {time.monotonic() - started:.2f} s")
        data = json.loads(completed.stdout)
        return Schema(data["tables"], [tuple(key) for key in data["applied"]], data["views"])

    @contextmanager
    def worker(self, name: str, phase: str, only: list[str] | None = None) -> Iterator[Worker]:
        """Run this release's code in a worker process for the duration of the block.

        The worker queries every model of the app, or only the models named in only.
        """
        worker = Worker(self, name, only)
        worker.start(phase)
        try:
            yield worker
        finally:
            worker.kill()


@dataclass
class Schema:
    """What introspection found in the rehearsal database."""

    tables: dict[str, dict[str, Any]]
    applied: list[tuple[str, str]]
    views: list[str] = field(default_factory=list)

    def applied_names(self, app_label: str = APP_LABEL) -> list[str]:
        """Return the names of the app's applied migrations, in order."""
        return sorted(name for label, name in self.applied if label == app_label)

    def columns(self, table: str) -> dict[str, bool]:
        """Return column name -> nullable, for table."""
        return self.tables[table]["columns"]

    def defaults(self, table: str) -> dict[str, str | None]:
        """Return column name -> text of its database default (None: no default), for table."""
        return self.tables[table]["defaults"]

    def constraints(self, table: str, kind: str) -> set[tuple[str, ...]]:
        """Return the column tuples of the table's constraints of kind.

        kind is a key of Django's introspection: "index", "unique", "check",
        "foreign_key"; primary keys are left out.
        """
        return {
            tuple(info["columns"] or [])
            for name, info in self.tables[table]["constraints"].items()
            if info[kind] and not (kind in ("index", "unique") and info.get("primary_key"))
        }

    def constrained_columns(self, table: str) -> set[str]:
        """Return the columns of the table's constraints and indexes."""
        return {
            column
            for constraint in self.tables[table]["constraints"].values()
            for column in constraint["columns"] or []
        }


# ---------------------------------------------------------------------------
# Release pairs, and the checks of their rehearsals


@dataclass
class ReleasePair:
    """Release N and release N+1 (its migrations generated) on one database.

    ``at`` says which release the database was last migrated to ("n" or
    "n1"), None while a rehearsal moves it; tests of the module reuse the
    pair and settle the database first.
    """

    n: Project
    n1: Project
    schema_n: Schema | None
    at: str | None = "n"
    # What release N+1's makemigrations runs printed (their questions too).
    makemigrations_output: str = ""

    def settle(self, release: str) -> None:
        """Migrate the database (all at once, no worker) to release, unless it is there."""
        at, self.at = self.at, None  # Unknown until the caller's rehearsal succeeds.
        if at == release:
            return
        if release == "n1":
            self.n1.manage("migrate")
        else:
            self.n1.manage("migrate", APP_LABEL, self.n.migration_names()[-1])


@dataclass(frozen=True)
class Scenario:
    """A rehearsal's releases: release N's models, release N+1's (one per makemigrations run).

    answers are what makemigrations is told at its questions ("Did you
    rename...?"), the same lines for each run; None runs it with --noinput.
    """

    name: str
    n_source: str
    n1_sources: tuple[str, ...]
    answers: tuple[str, ...] | None = None


# Every pair of releases/ that a rehearsal deploys; test_rehearsal_verdicts.py
# deploys each with Django's own migrations too, and checks none is left out.
SCENARIOS = {
    scenario.name: scenario
    for scenario in [
        Scenario("cases", "cases_n", ("cases_n1",)),
        Scenario("multipr", "multipr_n", ("multipr_n1_pr1", "multipr_n1_pr2")),
        Scenario("stock", "stock_n", ("stock_n1",), ("y",)),
        Scenario("deadlock", "deadlock_n", ("deadlock_n1",)),
        Scenario("changes", "changes_n", ("changes_n1",), ("y",) * 5),
        Scenario("views", "views_n", ("views_n1",), ("y",)),
        Scenario("fields", "fields_n", ("fields_n1",)),
        Scenario("mirrors", "mirrors_n", ("mirrors_n1",), ("y", "y")),
        Scenario("online", "online_n", ("online_n1",), ("y",)),
        Scenario("separate", "separate_n", ("separate_n1_pr1", "separate_n1_pr2"), ("y", "y")),
        Scenario("squash", "squash_n", ("squash_n1_pr1", "squash_n1_pr2")),
    ]
}


def build_scenario(
    scenario: Scenario,
    root: Path,
    database: dict[str, Any],
    stock: bool = False,
    capture_schema: bool = False,
) -> ReleasePair:
    """Build scenario's release pair (build_pair with the scenario's sources and answers)."""
    return build_pair(
        root,
        database,
        scenario.n_source,
        *scenario.n1_sources,
        stock=stock,
        capture_schema=capture_schema,
        answers=list(scenario.answers) if scenario.answers is not None else None,
    )


def build_pair(
    root: Path,
    database: dict[str, Any],
    n_source: str,
    *n1_sources: str,
    stock: bool = False,
    capture_schema: bool = False,
    answers: list[str] | None = None,
) -> ReleasePair:
    """Write release N and migrate it, then write release N+1 with makemigrations runs.

    makemigrations runs with --noinput, which answers no to "Did you
    rename...?", unless answers are given: then it runs interactively and
    reads them, one line per question, on stdin (a single release N+1 source).
    """
    n = Project.create(root / "release_n", database, release_source(n_source))
    n.manage("makemigrations", APP_LABEL)
    n.manage("migrate")
    schema_n = n.schema() if capture_schema else None
    n1 = n.copy(root / "release_n1", release_source(n1_sources[0]))
    outputs = []
    for number, source in enumerate(n1_sources):
        if number:
            n1.write_models(release_source(source))
        options = ["--stock"] if stock else []
        if answers is None:
            completed = n1.manage("makemigrations", "--noinput", *options)
        else:
            completed = n1.manage("makemigrations", *options, answers=answers)
        outputs.append(completed.stdout)
    return ReleasePair(n, n1, schema_n, makemigrations_output="".join(outputs))


def assert_no_failures(*results: WorkerResult) -> None:
    """Fail with every failed query, per worker and model, if there is one."""
    reports = [result.failure_report() for result in results if result.failures_by_model()]
    assert not reports, "\n".join(reports)


def assert_phases(result: WorkerResult, phases: list[str], models: set[str]) -> None:
    """Check that the worker ran every model, and MIN_OPS queries, in each phase."""
    print(result.summary())
    assert list(result.counts) == phases, result.summary()
    for phase in phases:
        assert result.ops(phase) >= MIN_OPS, result.summary()
        assert set(result.counts[phase]) == models, (phase, sorted(result.counts[phase]))


def app_tables(schema: Schema) -> dict[str, dict[str, bool]]:
    """Return table -> {column: nullable} for the app's tables."""
    return {
        table: schema.columns(table)
        for table in sorted(schema.tables)
        if table.startswith(f"{APP_LABEL}_")
    }


# ---------------------------------------------------------------------------
# Workers, as seen from the test


@dataclass
class WorkerResult:
    """What a worker did: per phase, per model, queries run and failed."""

    name: str
    counts: dict[str, dict[str, dict[str, int]]]
    errors: dict[str, dict[str, int]]
    iterations: int
    exit_reason: str

    def ops(self, phase: str) -> int:
        """Return the number of queries run in phase."""
        return sum(model["ops"] for model in self.counts.get(phase, {}).values())

    def failures_by_model(self) -> dict[str, int]:
        """Return model -> failed queries, over all phases, for models with failures."""
        totals: Counter[str] = Counter()
        for models in self.counts.values():
            for model, count in models.items():
                totals[model] += count["failures"]
        return {model: n for model, n in sorted(totals.items()) if n}

    def failure_report(self) -> str:
        """Return the failures per model and phase, with their exception texts."""
        lines = [f"worker {self.name}: {sum(self.failures_by_model().values())} failed queries"]
        for model, total in self.failures_by_model().items():
            by_phase = ", ".join(
                f"{phase}: {models[model]['failures']}/{models[model]['ops']}"
                for phase, models in self.counts.items()
                if models.get(model, {}).get("failures")
            )
            lines.append(f"  {model}: {total} failed ({by_phase})")
            for text, count in self.errors.get(model, {}).items():
                lines.append(f"    {count} x {text}")
        return "\n".join(lines)

    def summary(self) -> str:
        """Return one line: queries (failed) per phase."""
        phases = ", ".join(
            f"{phase} {self.ops(phase)} ops/{sum(m['failures'] for m in models.values())} failed"
            for phase, models in self.counts.items()
        )
        return f"worker {self.name}: {phases} ({self.iterations} iterations)"


class Worker:
    """A worker process running one release's code, steered through files.

    The control file holds the current phase name ("stop" ends the loop);
    the worker writes its progress after every iteration over the models and
    its result when it stops.
    """

    def __init__(self, project: Project, name: str, only: list[str] | None = None) -> None:
        self.project = project
        self.name = name
        self.only = only or []
        self.worker_id = next(_worker_ids)
        folder = project.path.parent / "workers"
        folder.mkdir(exist_ok=True)
        stem = folder / f"{name}-{self.worker_id}"
        self.control = stem.with_suffix(".control")
        self.progress_file = stem.with_suffix(".progress")
        self.result_file = stem.with_suffix(".result")
        self.log_file = stem.with_suffix(".log")
        self.process: subprocess.Popen[bytes] | None = None
        self.result: WorkerResult | None = None

    def start(self, phase: str) -> None:
        """Start the process in phase."""
        self.set_phase(phase)
        with self.log_file.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    str(HARNESS),
                    "worker",
                    "--project",
                    str(self.project.path),
                    "--app",
                    self.project.app_label,
                    "--worker-id",
                    str(self.worker_id),
                    "--control",
                    str(self.control),
                    "--progress",
                    str(self.progress_file),
                    "--result",
                    str(self.result_file),
                    *(f"--only={model}" for model in self.only),
                ],
                cwd=self.project.path,
                env=subprocess_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def set_phase(self, phase: str) -> None:
        """Tell the worker which phase its next queries belong to."""
        _write_atomic(self.control, phase)

    def progress(self) -> dict[str, Any]:
        """Return the worker's last progress report."""
        try:
            return json.loads(self.progress_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {"ops": {}, "iterations": {}}

    def _log(self) -> str:
        with suppress(FileNotFoundError):
            return self.log_file.read_text(errors="replace")[-4000:]
        return ""

    def wait_for(
        self, phase: str, ops: int, iterations: int = 0, timeout: float = PHASE_TIMEOUT
    ) -> dict[str, Any]:
        """Wait until the worker ran ops queries and iterations loops in phase."""
        deadline = time.monotonic() + timeout
        while True:
            progress = self.progress()
            if (
                progress["ops"].get(phase, 0) >= ops
                and progress["iterations"].get(phase, 0) >= iterations
            ):
                return progress
            assert self.process is not None
            if self.process.poll() is not None:
                raise RehearsalError(
                    f"worker {self.name} exited ({self.process.returncode}) in phase "
                    f"{phase}:\n{self._log()}"
                )
            if time.monotonic() > deadline:
                raise RehearsalError(
                    f"worker {self.name} did not run {ops} queries in phase {phase} "
                    f"within {timeout} s (progress: {progress}):\n{self._log()}"
                )
            time.sleep(0.02)

    def stop(self, timeout: float = 30.0) -> WorkerResult:
        """Stop the loop and return what the worker did."""
        assert self.process is not None
        started = time.monotonic()
        self.set_phase("stop")
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise RehearsalError(f"worker {self.name} did not stop:\n{self._log()}") from None
        if self.process.returncode != 0 or not self.result_file.exists():
            raise RehearsalError(
                f"worker {self.name} failed (exit {self.process.returncode}):\n{self._log()}"
            )
        print(f"worker {self.name} stopped in {time.monotonic() - started:.2f} s")
        data = json.loads(self.result_file.read_text())
        self.result = WorkerResult(name=self.name, **data)
        return self.result

    def kill(self) -> None:
        """End the process if it still runs (the test failed before stopping it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def run_phase(phase: str, workers: list[Worker], action: Callable[[], Any] | None = None) -> Any:
    """Switch workers to phase, run action, and let them run MIN_OPS queries after it.

    The queries of an iteration that started before action finished do not
    count: each worker must finish two more iterations and MIN_OPS more
    queries once it is done, and the phase lasts at least PHASE_SECONDS.
    """
    started = time.monotonic()
    for worker in workers:
        worker.set_phase(phase)
    result = action() if action is not None else None
    acted = time.monotonic()
    for worker in workers:
        progress = worker.progress()
        worker.wait_for(
            phase,
            ops=progress["ops"].get(phase, 0) + MIN_OPS,
            iterations=progress["iterations"].get(phase, 0) + 2,
        )
    remaining = PHASE_SECONDS - (time.monotonic() - started)
    if remaining > 0:
        time.sleep(remaining)
    print(
        f"phase {phase}: {time.monotonic() - started:.2f} s "
        f"(command {acted - started:.2f} s), workers: {', '.join(w.name for w in workers)}"
    )
    return result


@dataclass
class RollingDeploy:
    """What a rolling deploy of release N+1 over release N recorded."""

    pre: subprocess.CompletedProcess[str]  # migrate --stage pre-deploy
    post: subprocess.CompletedProcess[str]  # migrate --stage post-deploy
    prepared: Schema  # the schema after pre-deploy
    old: WorkerResult  # release N's queries
    new: WorkerResult  # release N+1's queries
    between: Any = None  # what the between callback returned
    verdict: dict[str, Any] = field(default_factory=dict)  # verifystages --format json, before


def verdict_of(
    n1: Project, *target: str, databases: Sequence[str] = ("default",)
) -> dict[str, Any]:
    """Return what ``verifystages --format json`` says of n1's pending plan (exit 0 or 1).

    target is an app label and a migration name, for a rollback's plan.
    With several databases, their verdicts joined: proven if each is, every
    database's violations and refusals (and each verdict under "databases").
    """
    if len(databases) > 1:
        verdicts = {alias: verdict_of(n1, *target, databases=[alias]) for alias in databases}
        return {
            "proven": all(verdict["proven"] for verdict in verdicts.values()),
            "violations": [v for verdict in verdicts.values() for v in verdict["violations"]],
            "refused": [r for verdict in verdicts.values() for r in verdict["refused"]],
            "databases": verdicts,
        }
    chosen = [] if list(databases) == ["default"] else ["--database", databases[0]]
    completed = n1.manage("verifystages", *target, *chosen, "--format", "json", check=False)
    if completed.returncode not in (0, 1):
        raise RehearsalError(f"verifystages failed:\n{completed.stdout}\n{completed.stderr}")
    try:
        verdict: dict[str, Any] = json.loads(completed.stdout)
    except json.JSONDecodeError:
        raise RehearsalError(
            f"verifystages printed no report (exit {completed.returncode}):\n"
            f"{completed.stdout}\n{completed.stderr}"
        ) from None
    return verdict


def assert_verdict_held(verdict: dict[str, Any], *results: WorkerResult) -> None:
    """Assert the proof before the deploy said what the workers then met.

    Proven: no worker failed a query. Not proven: some did, on a model the
    proof named (no false alarm, no missed break).
    """
    failed = {model for result in results for model in result.failures_by_model()}
    named = {v["model"].rsplit(".", 1)[-1] for v in verdict["violations"]}
    report = json.dumps(verdict, indent=2)
    if verdict["proven"]:
        assert not failed, f"proven, but queries failed on {sorted(failed)}:\n{report}"
    else:
        assert failed & named, f"not proven, but no query failed on {sorted(named)}:\n{report}"


def stage_run(
    n1: Project, databases: Sequence[str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``migrate *args`` (a stage) on each of databases in turn, as a deploy script does.

    With several databases, one result: the outputs joined, the first
    failure's exit status.
    """
    if list(databases) == ["default"]:
        return n1.manage("migrate", *args, check=check)
    runs = [n1.manage("migrate", *args, "--database", alias, check=check) for alias in databases]
    return subprocess.CompletedProcess(
        [run.args for run in runs],
        next((run.returncode for run in runs if run.returncode), 0),
        "".join(run.stdout for run in runs),
        "".join(run.stderr for run in runs),
    )


def rolling_deploy(
    n: Project,
    n1: Project,
    between: Callable[[], Any] | None = None,
    check: bool = True,
    skip_verify: bool = False,
    verdict: dict[str, Any] | None = None,
    databases: Sequence[str] = ("default",),
) -> RollingDeploy:
    """Deploy release N+1 over release N as production does, workers of both querying.

    Release N alone (baseline), the pre-deploy stage under it, release N+1
    beside it (both), then release N stopped and the post-deploy stage under
    release N+1. between runs after pre-deploy, before release N+1 starts;
    check=False lets the post-deploy command fail (its result says how).
    skip_verify runs the pre-deploy stage even when its proof fails (to see
    what an unproven plan does to the releases). verdict: verdict_of(n1),
    when the caller has it already. databases: each stage runs on each of
    them in turn (``--database``); prepared is the first one's schema.
    """
    if verdict is None:
        verdict = verdict_of(n1, databases=databases)
    pre_deploy = ["--stage", "pre-deploy"] + (["--skip-verify"] if skip_verify else [])
    with n.worker("N", "baseline") as old:
        run_phase("baseline", [old])
        pre = run_phase("pre-deploy", [old], lambda: stage_run(n1, databases, *pre_deploy))
        prepared = n1.schema(databases[0])
        extra = between() if between is not None else None
        with n1.worker("N+1", "both") as current:
            run_phase("both", [old, current])
            old_result = old.stop()
            post = run_phase(
                "post-deploy",
                [current],
                lambda: stage_run(n1, databases, "--stage", "post-deploy", check=check),
            )
            new_result = current.stop()
    if check:
        assert_verdict_held(verdict, old_result, new_result)
    return RollingDeploy(pre, post, prepared, old_result, new_result, extra, verdict)


@dataclass
class RollingRollback:
    """What a rollback of release N+1 to release N through both stages recorded."""

    pre: subprocess.CompletedProcess[str]  # migrate <target> --stage pre-deploy
    restored: Schema  # the schema after the rollback's pre-deploy stage
    new: WorkerResult  # release N+1's queries
    old: WorkerResult  # release N's queries
    verdict: dict[str, Any] = field(default_factory=dict)  # verifystages of the rollback, before


def rolling_rollback(n: Project, n1: Project) -> RollingRollback:
    """Roll release N+1 back to release N's last migration, workers of both querying.

    The mirror of rolling_deploy: release N+1 alone (baseline), the
    rollback's pre-deploy stage under it, release N beside it (both), then
    release N+1 stopped and the rollback's post-deploy stage under release N.
    """
    target = n.migration_names()[-1]
    verdict = verdict_of(n1, APP_LABEL, target)
    with n1.worker("N+1", "baseline") as current:
        run_phase("baseline", [current])
        pre = run_phase(
            "rollback pre-deploy",
            [current],
            lambda: n1.manage("migrate", APP_LABEL, target, "--stage", "pre-deploy"),
        )
        restored = n1.schema()
        with n.worker("N", "both") as old:
            run_phase("both", [current, old])
            new_result = current.stop()
            run_phase(
                "rollback post-deploy",
                [old],
                lambda: n1.manage("migrate", APP_LABEL, target, "--stage", "post-deploy"),
            )
            old_result = old.stop()
    assert_verdict_held(verdict, new_result, old_result)
    return RollingRollback(pre, restored, new_result, old_result, verdict)


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


# ---------------------------------------------------------------------------
# Worker process: the ORM workload of one release


def _setup_django(project: str) -> None:
    sys.path.insert(0, project)
    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS_MODULE
    import django

    django.setup()


@dataclass
class Workload:
    """Insert, read, update and save rows of every model, with M2M add and read.

    Values are unique per worker (worker_id) so that two workers never break
    a unique constraint together.
    """

    worker_id: int
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def value(self, model_field: Any) -> Any:
        """Return a fresh value for a concrete, non-relational field."""
        import datetime
        import decimal
        import uuid

        from django.db import models
        from django.utils import timezone

        n = next(self.counter)
        if model_field.choices:
            return model_field.flatchoices[0][0]
        if isinstance(model_field, models.BooleanField):
            return n % 2 == 0
        if isinstance(model_field, models.SmallIntegerField):
            return n % 30000
        if isinstance(model_field, models.IntegerField):
            return self.worker_id * 1_000_000 + n
        if isinstance(model_field, models.DecimalField):
            return decimal.Decimal(n % 1000)
        if isinstance(model_field, models.FloatField):
            return float(n)
        if isinstance(model_field, models.DateTimeField):
            return timezone.now()
        if isinstance(model_field, models.DateField):
            return datetime.date.today()
        if isinstance(model_field, models.UUIDField):
            return uuid.uuid4()
        if isinstance(model_field, models.JSONField):
            return {"n": n}
        if isinstance(model_field, (models.CharField, models.TextField)):
            text = f"w{self.worker_id}-{n}"
            return text[: model_field.max_length] if model_field.max_length else text
        raise TypeError(f"no rehearsal value for {model_field!r}")

    @staticmethod
    def plain_fields(model: Any) -> list[Any]:
        """Return the fields the workload writes values to (no pk, relation, auto_now)."""
        return [
            f
            for f in model._meta.concrete_fields
            if not f.primary_key and not f.is_relation and f.editable
        ]

    def create(self, model: Any) -> Any:
        """Insert a row with every field the release knows, creating related rows first."""
        values = {f.name: self.value(f) for f in self.plain_fields(model)}
        for relation in model._meta.concrete_fields:
            # Foreign keys and one-to-ones, nullable ones too, so the column is written.
            if relation.is_relation and relation.related_model is not model:
                values[relation.name] = self.create(relation.related_model)
        return model.objects.create(**values)


@dataclass
class Counts:
    """Per phase, per model, queries run and failed; per model, error texts."""

    counts: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    errors: dict[str, Counter[str]] = field(default_factory=dict)

    def record(self, phase: str, model: str, error: BaseException | None, operation: str) -> None:
        """Count one query of model in phase, failed if error."""
        count = self.counts.setdefault(phase, {}).setdefault(model, {"ops": 0, "failures": 0})
        count["ops"] += 1
        if error is not None:
            count["failures"] += 1
            texts = self.errors.setdefault(model, Counter())
            # The first line: PostgreSQL adds the query, with its values.
            message = (str(error).splitlines() or [""])[0]
            text = f"[{phase}] {operation}: {type(error).__name__}: {message}"[:400]
            if text in texts or len(texts) < MAX_ERRORS_PER_MODEL:
                texts[text] += 1

    def phase_ops(self) -> dict[str, int]:
        """Return phase -> queries run."""
        return {
            phase: sum(c["ops"] for c in models.values()) for phase, models in self.counts.items()
        }


def run_worker(arguments: argparse.Namespace) -> int:
    """Run the workload of the release in arguments.project until told to stop."""
    # SIGALRM's default action ends the process even inside a blocked query.
    signal.alarm(int(WORKER_HARD_LIMIT) + 15)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append("SIGTERM"))
    parent = os.getppid()
    deadline = time.monotonic() + WORKER_HARD_LIMIT
    _setup_django(arguments.project)
    from django.apps import apps
    from django.db import connections

    models = [
        model
        for model in apps.get_app_config(arguments.app).get_models()
        if not arguments.only or model.__name__ in arguments.only
    ]
    workload = Workload(arguments.worker_id)
    counts = Counts()
    last_pk: dict[str, Any] = {}
    iterations: Counter[str] = Counter()
    control = Path(arguments.control)
    reason = "stopped"

    for _ in range(WORKER_MAX_ITERATIONS):
        phase = control.read_text().strip()
        if phase == "stop" or stopping:
            reason = stopping[0] if stopping else "stopped"
            break
        if time.monotonic() > deadline or os.getppid() != parent:
            reason = "hard time limit" if time.monotonic() > deadline else "parent gone"
            break
        for model in models:
            _exercise(model, phase, workload, counts, last_pk)
            for connection in connections.all(initialized_only=True):
                if not connection.is_usable():
                    connection.close()
        iterations[phase] += 1
        _write_atomic(
            Path(arguments.progress),
            json.dumps({"ops": counts.phase_ops(), "iterations": iterations}),
        )
    else:
        reason = "iteration limit"
    result = {
        "counts": counts.counts,
        "errors": {model: dict(texts) for model, texts in counts.errors.items()},
        "iterations": sum(iterations.values()),
        "exit_reason": reason,
    }
    _write_atomic(Path(arguments.result), json.dumps(result))
    return 0


def _exercise(
    model: Any, phase: str, workload: Workload, counts: Counts, last_pk: dict[str, Any]
) -> None:
    """Run the queries of one model once, counting failures."""
    name = model.__name__

    def attempt(operation: str, query: Callable[[], Any]) -> Any:
        try:
            result = query()
        except Exception as error:  # every failed query counts, whatever the backend
            counts.record(phase, name, error, operation)
            return None
        counts.record(phase, name, None, operation)
        return result

    def insert() -> Any:
        obj = workload.create(model)
        if obj.pk is None:
            # The row may be there, but the code cannot use it: a failed query.
            raise WrongResult("the primary key of the inserted row did not come back")
        return obj

    def update(changes: dict[str, Any]) -> None:
        matched = model.objects.filter(pk=pk).update(**changes)
        if matched != 1:
            raise WrongResult(f"the update of one existing row reported {matched} rows")

    relations = [f.name for f in model._meta.concrete_fields if f.is_relation]
    obj = attempt("insert", insert)
    rows = attempt(
        "read", lambda: list(model.objects.select_related(*relations).order_by("-pk")[:5])
    )
    if obj is not None:
        last_pk[name] = obj.pk
    elif name not in last_pk and rows:
        # No row of its own yet: the code goes on with the latest one.
        last_pk[name] = rows[0].pk
    pk = last_pk.get(name)
    if pk is None:
        return
    plain = workload.plain_fields(model)
    if plain:
        attempt("queryset update", lambda: update({f.name: workload.value(f) for f in plain}))

    def save() -> None:
        instance = model.objects.get(pk=pk)
        for f in plain:
            setattr(instance, f.name, workload.value(f))
        instance.save()

    attempt("instance save", save)

    def owner() -> Any:
        """Return this iteration's row, or the last one inserted (fetched again)."""
        return obj if obj is not None else model.objects.get(pk=pk)

    for m2m in model._meta.many_to_many:
        attempt(
            f"m2m add {m2m.name}",
            lambda m2m=m2m: getattr(owner(), m2m.name).add(workload.create(m2m.related_model)),
        )
        attempt(f"m2m read {m2m.name}", lambda m2m=m2m: list(getattr(owner(), m2m.name).all()))


# ---------------------------------------------------------------------------
# Introspection process


def run_introspect(arguments: argparse.Namespace) -> int:
    """Print every table's columns (nullable, default), constraints and applied migrations."""
    _setup_django(arguments.project)
    from django.db import connections

    connection = connections[arguments.database]

    tables: dict[str, dict[str, Any]] = {}
    with connection.cursor() as cursor:
        views = sorted(
            info.name
            for info in connection.introspection.get_table_list(cursor)
            if info.type == "v"
        )
        for table in connection.introspection.table_names(cursor):
            description = connection.introspection.get_table_description(cursor, table)
            constraints = connection.introspection.get_constraints(cursor, table)
            tables[table] = {
                "columns": {column.name: bool(column.null_ok) for column in description},
                "defaults": {
                    column.name: _default_text(column, connection.vendor) for column in description
                },
                "constraints": {
                    name: {
                        key: info.get(key)
                        for key in (
                            "columns",
                            "primary_key",
                            "unique",
                            "index",
                            "check",
                            "foreign_key",
                        )
                    }
                    for name, info in constraints.items()
                },
            }
    from django.db.migrations.recorder import MigrationRecorder

    applied = sorted(MigrationRecorder(connection).applied_migrations())
    print(json.dumps({"tables": tables, "views": views, "applied": applied}, default=str))
    return 0


def _default_text(column: Any, vendor: str) -> str | None:
    """Return the text of a column's database default, None if it has none."""
    default = getattr(column, "default", None)
    # MariaDB reports a nullable column without a default as the text NULL.
    if default is None or (vendor == "mysql" and default == "NULL"):
        return None
    return str(default)


def main(argv: list[str] | None = None) -> int:
    """Run a worker or an introspection, as a script."""
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker")
    worker.add_argument("--project", required=True)
    worker.add_argument("--app", required=True)
    worker.add_argument("--worker-id", type=int, required=True)
    worker.add_argument("--control", required=True)
    worker.add_argument("--progress", required=True)
    worker.add_argument("--result", required=True)
    worker.add_argument("--only", action="append", help="Query only this model (repeatable).")
    introspect = commands.add_parser("introspect")
    introspect.add_argument("--project", required=True)
    introspect.add_argument("--database", default="default", help="The alias to introspect.")
    arguments = parser.parse_args(argv)
    if arguments.command == "worker":
        return run_worker(arguments)
    return run_introspect(arguments)


if __name__ == "__main__":
    sys.exit(main())
