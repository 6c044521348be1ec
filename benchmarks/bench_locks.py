"""Benchmark the longest stall concurrent queries see while a schema change runs.

Run from the repository root::

    python benchmarks/bench_locks.py [--backend postgresql|mysql ...] [--rows 1000000 ...]
        [--kinds index check not_null add_column unique unique_field partial_unique
         bigint rename_column foreign_key rename_model rename_model_m2m drop_column]
        [--nice-ratio R] [--json PATH] [--keep]

For each backend and table size it creates a throw-away database
(``green_locks_<pid>``) on the server of GREEN_POSTGRES_URL / GREEN_MYSQL_URL
(the test suite's variables), and in a temporary directory a tiny Django project
whose app ``shop`` holds the model ``Item`` at release N (and ``Store``, ten
rows, the target of the added ForeignKey and of ``Item.stores``, a
ManyToManyField). Django creates the tables; the server fills them (PostgreSQL
``generate_series``, MariaDB's SEQUENCE engine), 1% of ``note`` left NULL, one
row per item in the many-to-many table ``shop_item_stores``.

Then, for each change kind, release N+1's models are written and the change is
migrated twice on the same table, undone in between (``migrate shop 0001``,
rows added by the load deleted, NULLs restored):

- stock: ``makemigrations --stock`` (Django's migration) and Django's own
  ``migrate`` (settings without green_makemigrations);
- ours: ``makemigrations``, then ``migrate --stage pre-deploy`` and
  ``migrate --stage post-deploy``.

While each ``migrate`` runs, a separate process runs a bounded loop of
single-row INSERTs and UPDATEs by primary key on the table (autocommit), as the
application release that runs at that moment would: release N during stock's
``migrate`` and the pre-deploy stage, release N+1 during the post-deploy stage.
It records the latency of every query (no release writes NULL into ``note``).
For ``rename_model_m2m`` the load is instead what the ORM sends for the
many-to-many relation: ``add()``'s INSERT that ignores a duplicate, alternating
with a read of one item's store ids, on ``shop_item_stores`` (release N) or
``shop_article_stores`` (release N+1).
The stall of a stage is the longest latency of a query that overlapped the
stage's window (``call_command("migrate")`` in a process where Django is already
set up); the failures are the queries that failed during the window or the
second after it. A WaitSampler polls what the load's server process waits on,
to tell a lock from a busy disk. Results: see benchmarks/README.rst.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scratch_db import connect, execute, scratch_database

POSTGRESQL_TARGET = 0.100  # seconds: the longest stall allowed on PostgreSQL.
IDLE = 0.5  # seconds of load before each stage: the noise floor.
TAIL = 1.0  # seconds of load after each stage: failures of the running release.
TABLE = "shop_item"
M2M_TABLE = "shop_item_stores"  # Item.stores' table at release N
M2M_COLUMN = "item_id"  # its column pointing at Item
NULL_EVERY = 100  # 1% of the rows have a NULL note.

# Release N's model. Every change kind edits it.
BASE_FIELDS: dict[str, str | None] = {
    "name": "models.CharField(max_length=50)",
    "qty": "models.IntegerField()",
    "note": "models.IntegerField(null=True)",
    "code": "models.BigIntegerField()",
    "legacy": "models.IntegerField()",
    # No reverse accessor: it would clash with the added ForeignKey's (foreign_key).
    "stores": 'models.ManyToManyField(Store, related_name="+")',
}
# A small second model, there from release N on: the target of the added ForeignKey
# and of Item.stores.
STORE_MODEL = """\
class Store(models.Model):
    name = models.CharField(max_length=50)
"""
STORES = 10


@dataclass(frozen=True)
class Kind:
    """One schema change: release N+1's model, and what each release inserts."""

    key: str
    title: str
    fields: dict[str, str | None] = field(default_factory=dict)  # None: removed
    meta: tuple[str, ...] = ()
    # Columns the INSERTs of release N+1 write, when they differ from release N's.
    new_columns: tuple[str, ...] | None = None
    model: str = "Item"  # release N+1's class name (a renamed model)
    # The table release N+1 writes, when the model's table is renamed.
    new_table: str | None = None
    # makemigrations runs interactively with these answers on stdin (Django's
    # "Was ... renamed to ...?"); None: --noinput.
    answers: str | None = None
    # The load queries the many-to-many table of Item.stores instead of the
    # model's table: release N+1's (table, column pointing at the model).
    m2m: tuple[str, str] | None = None


RELEASE_N_COLUMNS = ("name", "qty", "note", "code", "legacy")

KINDS = [
    Kind(
        "index",
        "add an index",
        meta=('indexes = [models.Index(fields=["qty"], name="shop_item_qty_idx")]',),
    ),
    Kind(
        "check",
        "add a check constraint",
        meta=(
            "constraints = [models.CheckConstraint("
            'condition=models.Q(qty__gte=0), name="shop_item_qty_gte_0")]',
        ),
    ),
    Kind(
        "not_null",
        "make a column NOT NULL",
        fields={"note": "models.IntegerField(default=0)"},
    ),
    Kind(
        "add_column",
        "add a NOT NULL column",
        fields={"flag": "models.IntegerField(default=7)"},
        new_columns=(*RELEASE_N_COLUMNS, "flag"),
    ),
    Kind(
        "unique",
        "add a unique constraint",
        meta=(
            'constraints = [models.UniqueConstraint(fields=["code"], name="shop_item_code_uniq")]',
        ),
    ),
    Kind(
        "unique_field",
        "make a field unique",
        fields={"code": "models.BigIntegerField(unique=True)"},
    ),
    Kind(
        "partial_unique",
        "add a partial unique",
        meta=(
            'constraints = [models.UniqueConstraint(fields=["code"], '
            'condition=models.Q(qty__gte=0), name="shop_item_code_partial_uniq")]',
        ),
    ),
    Kind(
        "bigint",
        "IntegerField to BigInt",
        fields={"qty": "models.BigIntegerField()"},
    ),
    Kind(
        "rename_column",
        "rename a column",
        fields={"legacy": None, "heritage": "models.IntegerField()"},
        new_columns=("name", "qty", "note", "code", "heritage"),
        answers="y\n",
    ),
    Kind(
        "foreign_key",
        "add a ForeignKey (null)",
        fields={"store": "models.ForeignKey(Store, models.CASCADE, null=True)"},
        new_columns=(*RELEASE_N_COLUMNS, "store_id"),
    ),
    Kind(
        "rename_model",
        "rename the model",
        model="Article",
        new_table="shop_article",
        answers="y\n",
    ),
    Kind(
        "rename_model_m2m",
        "rename a model with an M2M",
        model="Article",
        new_table="shop_article",
        answers="y\n",
        m2m=("shop_article_stores", "article_id"),
    ),
    Kind(
        "drop_column",
        "drop a column",
        fields={"legacy": None},
        new_columns=("name", "qty", "note", "code"),
    ),
]
KINDS_BY_KEY = {kind.key: kind for kind in KINDS}


# -- the project ----------------------------------------------------------------

MANAGE_PY = """\
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench_settings.green")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""

# Runs one management command with Django already set up, and prints when the
# command itself started and ended (time.monotonic(), shared by all processes
# on Linux) as the last line of its output.
TIMED_COMMAND_PY = """\
import io
import json
import sys
import time
import traceback

import django

django.setup()
from django.core.management import call_command

output = io.StringIO()
error = None
start = time.monotonic()
try:
    call_command(*sys.argv[1:], stdout=output, stderr=output)
except BaseException:
    error = traceback.format_exc()
end = time.monotonic()
print(json.dumps({"start": start, "end": end, "output": output.getvalue(), "error": error}))
"""


def render_models(kind: Kind | None) -> str:
    """Return shop/models.py at release N (kind=None) or at kind's release N+1."""
    fields = dict(BASE_FIELDS)
    if kind is not None:
        fields.update(kind.fields)
    model = kind.model if kind is not None else "Item"
    lines = [
        "from django.db import models",
        "",
        "",
        STORE_MODEL,
        "",
        f"class {model}(models.Model):",
    ]
    lines += [f"    {name} = {code}" for name, code in fields.items() if code is not None]
    if kind is not None and kind.meta:
        lines += ["", "    class Meta:"] + [f"        {line}" for line in kind.meta]
    return "\n".join(lines) + "\n"


def write_project(root: Path, db: dict[str, Any], nice_ratio: float | None = None) -> None:
    """Write the project: manage.py, stock and green settings, the shop app at release N.

    nice_ratio: green_makemigrations' BACKFILL_NICE_RATIO (None: its default).
    """
    root.mkdir(parents=True)
    (root / "manage.py").write_text(MANAGE_PY)
    (root / "timed_command.py").write_text(TIMED_COMMAND_PY)
    settings_dir = root / "bench_settings"
    settings_dir.mkdir()
    (settings_dir / "__init__.py").write_text("")
    (settings_dir / "base.py").write_text(
        textwrap.dedent(
            f"""\
            SECRET_KEY = "benchmark"
            USE_TZ = True
            DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
            DATABASES = {{"default": {db!r}}}
            """
        )
    )
    (settings_dir / "stock.py").write_text(
        'from .base import *  # noqa: F403\n\nINSTALLED_APPS = ["shop"]\n'
    )
    green = (
        'from .base import *  # noqa: F403\n\nINSTALLED_APPS = ["green_makemigrations", "shop"]\n'
    )
    if nice_ratio is not None:
        green += f'GREEN_MAKEMIGRATIONS = {{"BACKFILL_NICE_RATIO": {nice_ratio!r}}}\n'
    (settings_dir / "green.py").write_text(green)
    app = root / "shop"
    (app / "migrations").mkdir(parents=True)
    (app / "__init__.py").write_text("")
    (app / "migrations" / "__init__.py").write_text("")
    (app / "models.py").write_text(render_models(None))


def manage(
    python: str, project: Path, settings: str, args: list[str], stdin: str | None = None
) -> str:
    """Run manage.py (stdin: answers to its questions); return its output, or stop if it failed."""
    result = subprocess.run(
        [python, "manage.py", *args],
        cwd=project,
        env=_env(settings),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise SystemExit(
            f"`manage.py {' '.join(args)}` ({settings}) failed:\n{result.stdout}\n{result.stderr}"
        )
    return result.stdout + result.stderr


def timed_command(python: str, project: Path, settings: str, args: list[str]) -> dict[str, Any]:
    """Run a management command in timed_command.py; return its window and output."""
    result = subprocess.run(
        [python, "timed_command.py", *args],
        cwd=project,
        env=_env(settings),
        capture_output=True,
        text=True,
    )
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        raise SystemExit(
            f"timed_command.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
    data: dict[str, Any] = json.loads(lines[-1])
    return data


def _env(settings: str) -> dict[str, str]:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE=f"bench_settings.{settings}")
    env.pop("PYTHONPATH", None)
    return env


# -- databases -------------------------------------------------------------------


@contextmanager
def database(backend: str) -> Iterator[dict[str, Any]]:
    """Yield a DATABASES entry for an empty database, dropped on exit."""
    with scratch_database(backend, f"green_locks_{os.getpid()}") as entry:
        yield entry


def fill(entry: dict[str, Any], rows: int) -> None:
    """Fill the tables server-side: ids 1..rows, code = id, note NULL in 1% of the rows.

    The many-to-many table gets one row per item, ids 1..rows, item i in store
    i % 10 + 1. On MariaDB the ids are given: an INSERT ... SELECT reserves
    auto-increment values in growing blocks, and the next statement would
    start after a gap (ids above rows, which delete_load_rows would take for
    the load's).
    """
    connection = connect(entry)
    try:
        for number in range(1, STORES + 1):
            execute(connection, "INSERT INTO shop_store (name) VALUES (%s)", [f"store {number}"])
        if entry["ENGINE"].endswith("postgresql"):
            execute(
                connection,
                f"INSERT INTO {TABLE} (name, qty, note, code, legacy) "
                "SELECT 'item ' || g, g %% 1000, "
                "CASE WHEN g %% %s = 0 THEN NULL ELSE g END, g, g "
                "FROM generate_series(1, %s) AS g",
                [NULL_EVERY, rows],
            )
            execute(
                connection,
                f"INSERT INTO {M2M_TABLE} ({M2M_COLUMN}, store_id) "
                "SELECT g, g %% %s + 1 FROM generate_series(1, %s) AS g",
                [STORES, rows],
            )
            execute(connection, f"VACUUM ANALYZE {TABLE}")
            execute(connection, f"VACUUM ANALYZE {M2M_TABLE}")
        else:
            step = 500_000
            for first in range(1, rows + 1, step):
                last = min(rows, first + step - 1)
                execute(
                    connection,
                    f"INSERT INTO {TABLE} (id, name, qty, note, code, legacy) "
                    "SELECT seq, CONCAT('item ', seq), seq % 1000, "
                    f"IF(seq % {NULL_EVERY} = 0, NULL, seq), seq, seq "
                    f"FROM seq_{first}_to_{last}",
                )
            for first in range(1, rows + 1, step):
                last = min(rows, first + step - 1)
                execute(
                    connection,
                    f"INSERT INTO {M2M_TABLE} (id, {M2M_COLUMN}, store_id) "
                    f"SELECT seq, seq, seq % {STORES} + 1 FROM seq_{first}_to_{last}",
                )
            execute(connection, f"ANALYZE TABLE {TABLE}")
            execute(connection, f"ANALYZE TABLE {M2M_TABLE}")
    finally:
        connection.close()


def delete_load_rows(entry: dict[str, Any], rows: int, table: str = TABLE) -> None:
    """Delete the rows the load inserted."""
    connection = connect(entry)
    try:
        execute(connection, f"DELETE FROM {table} WHERE id > %s", [rows])
    finally:
        connection.close()


def restore_legacy(entry: dict[str, Any]) -> None:
    """Give the table back its NOT NULL legacy column, legacy = id, as filled."""
    connection = connect(entry)
    postgresql = entry["ENGINE"].endswith("postgresql")
    try:
        exists = execute(
            connection,
            "SELECT COUNT(*) FROM information_schema.columns "
            "WHERE table_name = %s AND column_name = 'legacy' AND table_schema = "
            + ("current_schema()" if postgresql else "DATABASE()"),
            [TABLE],
        ).fetchone()[0]
        if not exists:
            execute(connection, f"ALTER TABLE {TABLE} ADD COLUMN legacy integer NULL")
        execute(connection, f"UPDATE {TABLE} SET legacy = id")
        if postgresql:
            execute(connection, f"ALTER TABLE {TABLE} ALTER COLUMN legacy SET NOT NULL")
        else:
            execute(connection, f"ALTER TABLE {TABLE} MODIFY legacy integer NOT NULL")
    finally:
        connection.close()


def reset(entry: dict[str, Any], rows: int) -> None:
    """Bring the tables back to their filled state after a run has been undone.

    The many-to-many rows the load added (rename_model_m2m) are those past
    the fill's ids; deleted here, once the table has its release N name again.
    """
    connection = connect(entry)
    postgresql = entry["ENGINE"].endswith("postgresql")
    try:
        execute(connection, f"DELETE FROM {TABLE} WHERE id > %s", [rows])
        execute(
            connection,
            f"UPDATE {TABLE} SET note = NULL WHERE id %% %s = 0 AND note IS NOT NULL",
            [NULL_EVERY],
        )
        added = execute(connection, f"DELETE FROM {M2M_TABLE} WHERE id > %s", [rows]).rowcount
        if postgresql:
            execute(connection, f"VACUUM ANALYZE {TABLE}")
            if added:
                execute(connection, f"VACUUM ANALYZE {M2M_TABLE}")
    finally:
        connection.close()


# -- the load: a release's queries, in another process -------------------------------

LOAD = "--_load"


def load_main(spec_path: str) -> None:
    """Run single-row INSERTs and UPDATEs until SIGTERM; write every latency to a file.

    spec["mode"] "m2m": on a many-to-many table (columns: the one pointing at
    the item, then store_id), alternate what the ORM sends for
    ``item.stores.add(store)`` (an INSERT that ignores a duplicate) and a read
    of one item's store ids, each for a random item and store.

    Bounded: it stops by itself after spec["max_seconds"]. A query that fails
    is counted, and the loop goes on (on a fresh connection if it was lost).
    """
    spec = json.loads(Path(spec_path).read_text())
    stopping = False

    def stop(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    entry, rows, columns, table = spec["entry"], spec["rows"], spec["columns"], spec["table"]
    postgresql = entry["ENGINE"].endswith("postgresql")

    def open_connection() -> Any:
        connection = connect(entry)
        if postgresql:  # never wait forever, whatever the migration does
            execute(connection, "SET statement_timeout = '120s'")
        else:
            execute(connection, "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
            execute(connection, "SET SESSION lock_wait_timeout = 120")
            execute(connection, "SET SESSION innodb_lock_wait_timeout = 120")
        return connection

    connection = open_connection()
    m2m = spec["mode"] == "m2m"
    insert = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    )
    update = f"UPDATE {table} SET qty = qty + 1 WHERE id = %s"
    if m2m:  # Django's add(): bulk_create(ignore_conflicts=True); then a read
        if postgresql:
            insert += " ON CONFLICT DO NOTHING"
        else:
            insert = insert.replace("INSERT INTO", "INSERT IGNORE INTO", 1)
        update = f"SELECT {columns[1]} FROM {table} WHERE {columns[0]} = %s"
    rng = random.Random(os.getpid())
    # start, end, ok, 0 insert / 1 update (m2m: read)
    samples: list[tuple[float, float, int, int]] = []
    errors: Counter[str] = Counter()
    deadline = time.monotonic() + spec["max_seconds"]
    if postgresql:
        backend_id = execute(connection, "SELECT pg_backend_pid()").fetchone()[0]
    else:
        backend_id = execute(connection, "SELECT CONNECTION_ID()").fetchone()[0]
    print(f"ready {backend_id}", flush=True)
    number = 0
    while not stopping and time.monotonic() < deadline:
        number += 1
        is_update = number % 2
        params: list[Any]
        if is_update:
            sql, params = update, [rng.randint(1, rows)]
        elif m2m:
            sql, params = insert, [rng.randint(1, rows), rng.randint(1, STORES)]
        else:
            values: dict[str, Any] = {
                "name": "load",
                "qty": number % 1000,
                "note": number,  # the NULLs are old rows: no release writes one
                "code": -rng.getrandbits(62),  # the table's codes are positive
                "legacy": number,
                "heritage": number,
                "flag": 7,
                "store_id": rng.randint(1, STORES),
            }
            sql, params = insert, [values[column] for column in columns]
        start = time.monotonic()
        ok = 1
        try:
            cursor = execute(connection, sql, params)
            if m2m and is_update:
                cursor.fetchall()
        except Exception as error:  # noqa: BLE001 - counted, reported
            ok = 0
            errors[f"{type(error).__name__}: {str(error).strip().splitlines()[0][:160]}"] += 1
            try:
                execute(connection, "SELECT 1")
            except Exception:  # noqa: BLE001 - lost: start again
                connection = open_connection()
        samples.append((start, time.monotonic(), ok, is_update))
        time.sleep(spec["pause"])
    connection.close()
    Path(spec["out"]).write_text(json.dumps({"samples": samples, "errors": dict(errors)}))


@contextmanager
def load(
    entry: dict[str, Any],
    rows: int,
    columns: tuple[str, ...],
    pause: float,
    workdir: Path,
    table: str = TABLE,
    mode: str = "rows",
) -> Iterator[dict[str, Any]]:
    """Run the load process for the block; fill the yielded dict with its samples.

    mode: "rows" (INSERTs and UPDATEs of the model's table) or "m2m" (see load_main).
    """
    spec_path = workdir / "load_spec.json"
    out = workdir / "load_out.json"
    out.unlink(missing_ok=True)
    spec_path.write_text(
        json.dumps(
            {
                "entry": entry,
                "rows": rows,
                "columns": list(columns),
                "table": table,
                "mode": mode,
                "pause": pause,
                "max_seconds": 600,
                "out": str(out),
            }
        )
    )
    process = subprocess.Popen(
        [sys.executable, __file__, LOAD, str(spec_path)], stdout=subprocess.PIPE, text=True
    )
    result: dict[str, Any] = {}
    try:
        assert process.stdout is not None
        ready = process.stdout.readline().split()
        if not ready or ready[0] != "ready":
            raise SystemExit("The load process did not start.")
        result["backend_id"] = int(ready[1])
        yield result
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=180)
    result.update(json.loads(out.read_text()))


class WaitSampler:
    """Sample, every few milliseconds, what the load's server process is waiting on.

    PostgreSQL: ``wait_event_type:wait_event`` from ``pg_stat_activity``
    ("Lock:relation" is a table lock, "IO:WALSync" a commit waiting for the
    disk, "CPU" no wait at all). MariaDB: ``row lock wait`` when InnoDB says
    ``LOCK WAIT``, else the thread's state ("Waiting for table metadata
    lock", "Updating", ...). Tells a lock from a busy machine.
    """

    def __init__(self, entry: dict[str, Any], backend_id: int, interval: float = 0.004) -> None:
        self.entry = entry
        self.backend_id = backend_id
        self.interval = interval
        self.samples: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        connection = connect(self.entry)
        postgresql = self.entry["ENGINE"].endswith("postgresql")
        if postgresql:
            sql = "SELECT state, wait_event_type, wait_event FROM pg_stat_activity WHERE pid = %s"
        else:
            sql = (
                "SELECT p.COMMAND, p.STATE, t.trx_state FROM information_schema.PROCESSLIST p "
                "LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID "
                "WHERE p.ID = %s"
            )
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                row = execute(connection, sql, [self.backend_id]).fetchone()
                label = self._label(row, postgresql)
                if label:
                    self.samples.append((now, label))
                self._stop.wait(self.interval)
        finally:
            connection.close()

    @staticmethod
    def _label(row: Any, postgresql: bool) -> str | None:
        if row is None:
            return None
        if postgresql:
            state, event_type, event = row
            if state != "active":
                return None
            return f"{event_type}:{event}" if event_type else "CPU"
        command, state, trx_state = row
        if command == "Sleep":
            return None
        if trx_state == "LOCK WAIT":
            return "row lock wait"
        return str(state or command)

    def cause(self, start: float, end: float) -> str:
        """Return the kind of wait most samples between start and end show."""
        labels = Counter(_category(label) for when, label in self.samples if start <= when <= end)
        return labels.most_common(1)[0][0] if labels else "-"

    def waits(self, start: float, end: float) -> str:
        """Return what the samples between start and end show, most frequent first."""
        labels = Counter(label for when, label in self.samples if start <= when <= end)
        total = sum(labels.values())
        if not total:
            return "-"
        return ", ".join(
            f"{label} {count * 100 // total}%" for label, count in labels.most_common(3)
        )


def _category(label: str) -> str:
    """Return "lock", "mdl", "io", "cpu" or "run" for a WaitSampler label."""
    if label.startswith("Lock:") or label == "row lock wait":
        return "lock"
    if "metadata lock" in label:
        return "mdl"
    if label.startswith("IO:") or label.startswith("LWLock:WAL"):
        return "io"
    if label == "CPU":
        return "cpu"
    if ":" in label:  # another PostgreSQL wait event type
        return label.split(":", 1)[0].lower()
    return "run"  # a MariaDB thread at work: CPU or I/O, the server does not say


# -- measuring ---------------------------------------------------------------------


@dataclass
class StageResult:
    """What one migrate run did, and what the concurrent queries saw."""

    stage: str  # "migrate" (stock), "pre-deploy", "post-deploy"
    applied: list[str]
    seconds: float
    max_stall: float
    # What the longest query's server process was doing, from WaitSampler:
    # "Lock:relation 97%" means it waited for a table lock in 97% of the samples.
    stall_waits: str
    stall_cause: str  # "lock", "mdl", "io", "cpu", "run" (MariaDB: busy), "-" (unsampled)
    p99: float
    idle_max: float  # longest query before the window: the noise floor
    queries: int
    failed: int
    errors: dict[str, int]  # over the load's whole run
    retries: int  # lock timeouts our stage retried
    error: str | None = None


@dataclass(frozen=True)
class Target:
    """What a release's load queries: a table, the columns it inserts, the load's mode."""

    table: str
    columns: tuple[str, ...]
    mode: str = "rows"  # "rows": the model's table; "m2m": a many-to-many table


def load_target(kind: Kind, new_release: bool) -> Target:
    """Return what release N (or, new_release, kind's release N+1) queries during kind."""
    if kind.m2m is not None:
        table, column = kind.m2m if new_release else (M2M_TABLE, M2M_COLUMN)
        return Target(table, (column, "store_id"), "m2m")
    if new_release:
        return Target(kind.new_table or TABLE, kind.new_columns or RELEASE_N_COLUMNS)
    return Target(TABLE, RELEASE_N_COLUMNS)


def run_stage(
    ctx: Context, stage: str, settings: str, args: list[str], target: Target
) -> StageResult:
    """Run one migrate under load (the release's queries on target); return its figures."""
    with load(
        ctx.entry, ctx.rows, target.columns, ctx.pause, ctx.workdir, target.table, target.mode
    ) as observed:
        with WaitSampler(ctx.entry, observed["backend_id"]) as sampler:
            time.sleep(IDLE)
            window = timed_command(
                ctx.python, ctx.project, settings, ["migrate", "--noinput", *args]
            )
            time.sleep(TAIL)
    start, end = window["start"], window["end"]
    samples = observed["samples"]
    during = [(e - b, b, e) for b, e, _ok, _update in samples if e >= start and b <= end]
    before = [e - b for b, e, _ok, _update in samples if e < start]
    failed = [s for s in samples if not s[2] and start <= s[1] and s[0] <= end + TAIL]
    longest = max(during, default=(0.0, start, start))
    output = window["output"]
    applied = [
        line.split("Applying ", 1)[1].split("...")[0]
        for line in output.splitlines()
        if "Applying " in line
    ]
    return StageResult(
        stage=stage,
        applied=applied,
        seconds=end - start,
        max_stall=longest[0],
        stall_waits=sampler.waits(longest[1], longest[2]),
        stall_cause=sampler.cause(longest[1], longest[2]),
        p99=_percentile([d[0] for d in during], 0.99),
        idle_max=max(before, default=0.0),
        queries=len(during),
        failed=len(failed),
        errors=observed["errors"],
        retries=output.count("could not get a lock"),
        error=window["error"],
    )


def _percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Context:
    backend: str
    rows: int
    entry: dict[str, Any]
    project: Path
    workdir: Path
    python: str
    pause: float


@dataclass
class Row:
    """One line of the table: one backend, size and change, stock and ours."""

    backend: str
    rows: int
    kind: str
    title: str
    stock: StageResult
    pre: StageResult
    post: StageResult
    stock_migration: list[str]
    our_migrations: list[str]

    def verdict(self) -> str:
        """Return whether ours meets the target (PostgreSQL) or "-" elsewhere."""
        ours = [stage for stage in (self.pre, self.post) if stage.applied]
        if any(stage.error for stage in ours):
            return "ERROR"
        if self.backend != "postgresql":
            return "-"
        over = [s.stall_cause for s in ours if s.max_stall > POSTGRESQL_TARGET]
        return f"OVER ({', '.join(dict.fromkeys(over))})" if over else "ok"


def migration_files(project: Path) -> list[Path]:
    return sorted(
        path
        for path in (project / "shop" / "migrations").glob("0*.py")
        if path.stem != "0001_initial"
    )


def run_kind(ctx: Context, kind: Kind, order: list[str]) -> Row:
    """Migrate kind's change with stock Django and with ours (in order), undoing each."""
    models_py = ctx.project / "shop" / "models.py"
    results: dict[str, Any] = {}
    for variant in order:
        models_py.write_text(render_models(kind))
        args = ["makemigrations", "shop"] + (["--stock"] if variant == "stock" else [])
        if kind.answers is None:
            args.append("--noinput")
        manage(ctx.python, ctx.project, "green", args, stdin=kind.answers)
        files = migration_files(ctx.project)
        results[f"{variant}_files"] = [_describe_file(path) for path in files]
        old, new = load_target(kind, False), load_target(kind, True)
        new_table = kind.new_table or TABLE
        if variant == "stock":
            results["stock"] = run_stage(ctx, "migrate", "stock", [], old)
            _progress(ctx, kind, "stock", results["stock"])
        else:
            pre = run_stage(ctx, "pre-deploy", "green", ["--stage", "pre-deploy"], old)
            _progress(ctx, kind, "ours pre-deploy", pre)
            post = run_stage(ctx, "post-deploy", "green", ["--stage", "post-deploy"], new)
            _progress(ctx, kind, "ours post-deploy", post)
            results["pre"], results["post"] = pre, post
        # Undo: back to release N's schema and rows.
        began = time.perf_counter()
        delete_load_rows(ctx.entry, ctx.rows, new_table)
        if kind.key == "drop_column":
            # Unapplying the drop would add legacy back NOT NULL with no value
            # for the rows: record the undo, and restore the column by hand.
            manage(ctx.python, ctx.project, "green", ["migrate", "shop", "0001", "--fake"])
            restore_legacy(ctx.entry)
        else:
            manage(ctx.python, ctx.project, "green", ["migrate", "shop", "0001", "--noinput"])
        for path in files:
            path.unlink()
        models_py.write_text(render_models(None))
        reset(ctx.entry, ctx.rows)
        print(f"      undone in {time.perf_counter() - began:.1f}s", flush=True)
    return Row(
        ctx.backend,
        ctx.rows,
        kind.key,
        kind.title,
        results["stock"],
        results["pre"],
        results["post"],
        results["stock_files"],
        results["ours_files"],
    )


def _describe_file(path: Path) -> str:
    text = path.read_text()
    stage = ""
    for line in text.splitlines():
        if line.strip().startswith("stage = Stage."):
            stage = " [" + line.split("Stage.", 1)[1].split()[0].lower().replace("_", "-") + "]"
    atomic = " atomic=False" if "atomic = False" in text else ""
    return f"{path.stem}{stage}{atomic}"


def _progress(ctx: Context, kind: Kind, label: str, result: StageResult) -> None:
    applied = ", ".join(result.applied) or "nothing to apply"
    line = (
        f"    {kind.key:<16} {label:<17} {result.seconds:6.2f}s  max stall "
        f"{result.max_stall:6.3f}s [{result.stall_waits}] (idle {result.idle_max:.3f}s)  "
        f"{result.queries} queries, {result.failed} failed  [{applied}]"
    )
    if result.retries:
        line += f"  {result.retries} lock retries"
    if result.failed:
        line += "\n      errors: " + "; ".join(f"{n} x {e}" for e, n in result.errors.items())
    if result.error:
        line += "\n      ERROR: " + result.error.strip().splitlines()[-1]
    print(line, flush=True)


# -- report ----------------------------------------------------------------------------


def _size(rows: int) -> str:
    return f"{rows / 1_000_000:g}M" if rows >= 1_000_000 else f"{rows // 1000}k"


def _cell(result: StageResult) -> str:
    if result.error:
        return f"{'ERROR':<12} {result.seconds:6.2f} {result.failed:>4}"
    if not result.applied:
        return f"{'-':<12} {'-':>6} {'-':>4}"
    stall = f"{result.max_stall:.3f} {result.stall_cause}"
    return f"{stall:<12} {result.seconds:6.2f} {result.failed:>4}"


def format_table(rows: list[Row]) -> str:
    """Return the results as a text table."""
    group = f"{'stall':<12} {'time':>6} {'fail':>4}"
    width = max([24, *(len(row.title) for row in rows)])
    head = f"{'backend':<10} {'rows':>4}  {'change':<{width}}"
    lines = [
        f"{'':<{len(head)}}  {'stock migrate':<24} | {'ours pre-deploy':<24} | "
        f"{'ours post-deploy':<24} | {'idle':>5}  target",
        f"{head}  {group} | {group} | {group} | {'max':>5}",
    ]
    lines.append("-" * (len(lines[0]) + 2))
    for row in rows:
        idle = max(row.stock.idle_max, row.pre.idle_max, row.post.idle_max)
        lines.append(
            f"{row.backend:<10} {_size(row.rows):>4}  {row.title:<{width}}  {_cell(row.stock)} | "
            f"{_cell(row.pre)} | {_cell(row.post)} | {idle:5.3f}  {row.verdict()}"
        )
    lines.append(
        "stall: longest single INSERT/UPDATE (M2M: INSERT/SELECT) during the stage (s),"
        "\n  and what it waited on most:"
        "\n  lock = a table/row lock, mdl = MariaDB metadata lock, io = disk (WAL), cpu = nothing,"
        "\n  run = MariaDB thread busy (CPU or I/O); time: the stage's migrate (s);"
        "\nfail: queries of the running release that failed during the stage or the second after;"
        "\n'-': the stage had nothing to apply; idle max: longest query before any stage (noise);"
        f"\ntarget: ours at most {POSTGRESQL_TARGET * 1000:.0f} ms on PostgreSQL."
    )
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backend",
        nargs="+",
        choices=["postgresql", "mysql"],
        default=["postgresql", "mysql"],
        help="database servers to measure (default: both)",
    )
    parser.add_argument(
        "--rows", nargs="+", type=int, default=[1_000_000], help="table sizes (default 1000000)"
    )
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=list(KINDS_BY_KEY),
        default=list(KINDS_BY_KEY),
        help="change kinds to measure (default: all)",
    )
    parser.add_argument(
        "--pause",
        type=float,
        default=0.002,
        help="seconds the load waits between two queries (default 0.002)",
    )
    parser.add_argument(
        "--nice-ratio",
        type=float,
        help="green_makemigrations' BACKFILL_NICE_RATIO for ours (default: its default, 0)",
    )
    parser.add_argument("--json", type=Path, help="write the results as JSON to this path")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the project")
    parser.add_argument("--keep", action="store_true", help="keep the generated project")
    options = parser.parse_args()

    began = time.perf_counter()
    load_before = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="green_locks_"))
    rows: list[Row] = []
    setup: dict[str, Any] = {}
    try:
        for backend in options.backend:
            for size in options.rows:
                rows += measure(options, backend, size, workdir, setup)
    finally:
        if options.keep:
            print(f"Projects kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    total = time.perf_counter() - began
    load = (load_before[0], os.getloadavg()[0])
    print()
    print(
        f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{setup.get('python', '')}, Django {setup.get('django', '')}, "
        + ", ".join(f"{k} {v}" for k, v in setup.get("servers", {}).items())
        + f", load average {load[0]:.1f} -> {load[1]:.1f}"
    )
    print(format_table(rows))
    print(f"total {total:.0f}s")
    if options.json:
        options.json.write_text(
            json.dumps(
                {
                    "date": time.strftime("%Y-%m-%d"),
                    "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
                    "load_average": load,
                    "setup": setup,
                    "pause": options.pause,
                    "nice_ratio": options.nice_ratio,
                    "total_seconds": total,
                    "rows": [asdict(row) | {"verdict": row.verdict()} for row in rows],
                },
                indent=2,
            )
            + "\n"
        )
        print(f"results written to {options.json}")


def measure(
    options: argparse.Namespace, backend: str, size: int, workdir: Path, setup: dict[str, Any]
) -> list[Row]:
    """Measure every change kind on one backend and table size."""
    print(f"{backend}, {size:,} rows:", flush=True)
    with database(backend) as entry:
        project = workdir / f"{backend}_{size}"
        write_project(project, entry, options.nice_ratio)
        ctx = Context(backend, size, entry, project, workdir, options.python, options.pause)
        manage(options.python, project, "stock", ["makemigrations", "shop", "--noinput"])
        manage(options.python, project, "stock", ["migrate", "--noinput"])
        began = time.perf_counter()
        fill(entry, size)
        connection = connect(entry)
        try:
            version = execute(connection, "SELECT version()").fetchone()[0]
        finally:
            connection.close()
        setup.setdefault("servers", {})[backend] = version.split(" on ")[0].split(",")[0]
        setup.setdefault("django", _django_version(options.python))
        setup.setdefault("python", f"Python {platform.python_version()}")
        print(f"  filled in {time.perf_counter() - began:.1f}s ({version.split(',')[0]})")
        result = []
        for number, key in enumerate(options.kinds):
            # Alternate which runs first, so that caches favour neither.
            order = ["stock", "ours"] if number % 2 == 0 else ["ours", "stock"]
            result.append(run_kind(ctx, KINDS_BY_KEY[key], order))
        return result


def _django_version(python: str) -> str:
    output = subprocess.run(
        [python, "-c", "import django; print(django.get_version())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return output.strip()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == LOAD:
        load_main(sys.argv[2])
    else:
        main()
