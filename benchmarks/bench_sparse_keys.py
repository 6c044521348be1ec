"""Time of a batched backfill against stock Django's single UPDATE, by kind of primary key.

For each backend (PostgreSQL, MariaDB/MySQL) and each table, Django creates a
table ``(id, code varchar(20) NULL)`` and the server fills it with ``--rows``
rows, ``code`` NULL:

- ``dense``: integer ids 1 to N;
- ``sparse``: integer ids 1 to N - 1 and one id at 2,000,000,000 (the issue's
  case: a walk of the key range in steps of 1,000 would send two million
  statements);
- ``uuid``: UUID keys (PostgreSQL ``gen_random_uuid()``; MariaDB ``UUID()``,
  in the column type Django gives ``UUIDField`` there).

Then ``code`` is filled with ``'x'`` where it is NULL, as ``SetNotNull`` does,
in each round by each variant, the order rotating:

- ours: ``backfill.update_in_batches`` (batches of 1,000 keys, each its own
  statement and transaction, with the package's default session settings);
- stock: ``Model.objects.filter(code__isnull=True).update(code="x")``, one
  ``UPDATE`` (what Django's ``AlterField`` sends for a NOT NULL with a default).

Between two runs ``code`` is set back to NULL (PostgreSQL: then ``VACUUM``).
The script prints the seconds of each (median of ``--repeat`` rounds), their
ratio, the UPDATE statements ours sent, and how many the old walk of the key
range (``range(MIN(id), MAX(id) + 1, 1000)``) would have sent, and that
walk's time: measured on the dense table (a third variant of each round),
estimated on the sparse one (ours, plus the empty ranges at the time of one
such statement, timed over ``--walk-sample`` of them).

Usage, from the repository root with the package installed::

    python benchmarks/bench_sparse_keys.py --backend postgresql mysql --rows 100000 --repeat 3

Results: benchmarks/README.rst ("Sparse keys").
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import ExitStack
from typing import Any

import django
from django.conf import settings
from scratch_db import scratch_database

BATCH = 1000
SPARSE_ID = 2_000_000_000
KINDS = ("dense", "sparse", "uuid")


def setup_django(entries: dict[str, dict[str, Any]]) -> None:
    """Configure Django with one database alias per backend measured."""
    settings.configure(
        DATABASES={"default": {"ENGINE": "django.db.backends.dummy"}, **entries},
        INSTALLED_APPS=["green_makemigrations"],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.AutoField",
    )
    django.setup()


def make_models() -> dict[str, Any]:
    """Return one model per kind of table (Django's column types for the keys)."""
    from django.db import models

    made = {}
    for kind in KINDS:
        key = (
            models.UUIDField(primary_key=True)
            if kind == "uuid"
            else models.AutoField(primary_key=True)
        )
        meta = type("Meta", (), {"app_label": "green_makemigrations", "db_table": f"row_{kind}"})
        made[kind] = type(
            f"Row{kind.title()}",
            (models.Model,),
            {
                "__module__": __name__,
                "Meta": meta,
                "id": key,
                "code": models.CharField(max_length=20, null=True),
            },
        )
    return made


def fill(alias: str, model: Any, kind: str, rows: int) -> None:
    """Create model's table anew and have the server fill it with rows rows."""
    from django.db import connections

    connection = connections[alias]
    with connection.schema_editor() as editor:
        editor.execute(f"DROP TABLE IF EXISTS {editor.quote_name(model._meta.db_table)}")
        editor.create_model(model)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            source = f"generate_series(1, {rows - (kind == 'sparse')}) g"
            key = "gen_random_uuid()" if kind == "uuid" else "g"
        else:
            source = f"seq_1_to_{rows - (kind == 'sparse')}"
            key = "seq"
            if kind == "uuid":
                cursor.execute(
                    "SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = "
                    "DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = 'id'",
                    [model._meta.db_table],
                )
                native = cursor.fetchone()[0] == "uuid"
                key = "UUID()" if native else "REPLACE(UUID(), '-', '')"
        cursor.execute(f"INSERT INTO {table} (id) SELECT {key} FROM {source}")
        if kind == "sparse":
            cursor.execute(f"INSERT INTO {table} (id) VALUES ({SPARSE_ID})")
    settle(alias, model)


def settle(alias: str, model: Any) -> None:
    """Let the server tidy the table after a full update (PostgreSQL: VACUUM ANALYZE)."""
    from django.db import connections

    connection = connections[alias]
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"VACUUM ANALYZE {table}")
        else:
            cursor.execute(f"ANALYZE TABLE {table}")
            cursor.fetchall()


def reset(alias: str, model: Any) -> None:
    """Set code back to NULL in every row."""
    model.objects.using(alias).update(code=None)
    settle(alias, model)


def ours(alias: str, model: Any) -> tuple[float, int, int]:
    """Backfill with the package; return (seconds, rows changed, UPDATE statements)."""
    from django.db import connections

    from green_makemigrations.backfill import update_in_batches

    connection = connections[alias]
    sent = [0]

    def count(execute: Any, sql: str, *args: Any) -> Any:
        sent[0] += sql.startswith("UPDATE")
        return execute(sql, *args)

    quote = connection.ops.quote_name
    with connection.execute_wrapper(count), connection.schema_editor(atomic=False) as editor:
        began = time.perf_counter()
        changed = update_in_batches(
            editor, model, f"{quote('code')} = %s", f"{quote('code')} IS NULL", ["x"], BATCH
        )
        took = time.perf_counter() - began
    return took, changed, sent[0]


def stock(alias: str, model: Any) -> tuple[float, int]:
    """Fill with one UPDATE, as stock Django does; return (seconds, rows changed)."""
    began = time.perf_counter()
    changed = model.objects.using(alias).filter(code__isnull=True).update(code="x")
    return time.perf_counter() - began, changed


def range_walk_statements(alias: str, model: Any) -> int:
    """Return how many UPDATEs the walk of the key range in steps of BATCH would send."""
    if model._meta.pk.get_internal_type() == "UUIDField":
        return 0
    low, high = (
        model.objects.using(alias).order_by("pk").values_list("pk", flat=True)[0],
        (model.objects.using(alias).order_by("-pk").values_list("pk", flat=True)[0]),
    )
    return len(range(low, high + 1, BATCH))


def range_walk(alias: str, model: Any) -> tuple[float, int]:
    """Fill as the package did before keyset pagination; return (seconds, rows changed).

    ``UPDATE ... WHERE id >= %s AND id < %s AND (code IS NULL)`` for each range
    of BATCH ids from MIN(id) to MAX(id), in autocommit (dense table only: on
    the sparse one it would send two million statements).
    """
    from django.db import connections

    connection = connections[alias]
    quote = connection.ops.quote_name
    table, code, key = quote(model._meta.db_table), quote("code"), quote("id")
    sql = f"UPDATE {table} SET {code} = %s WHERE {key} >= %s AND {key} < %s AND ({code} IS NULL)"
    changed = 0
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN({key}), MAX({key}) FROM {table}")
        low, high = cursor.fetchone()
        for start in range(low, high + 1, BATCH):
            cursor.execute(sql, ["x", start, start + BATCH])
            changed += cursor.rowcount
    return time.perf_counter() - began, changed


def empty_range_seconds(alias: str, model: Any, sample: int) -> float:
    """Return the seconds of one UPDATE of the old range walk over a range without rows.

    Timed over sample ranges of the gap before the sparse id, in autocommit
    as the walk ran them; the old walk of the sparse table is almost only
    such statements.
    """
    from django.db import connections

    connection = connections[alias]
    quote = connection.ops.quote_name
    table, code, key = quote(model._meta.db_table), quote("code"), quote("id")
    sql = f"UPDATE {table} SET {code} = %s WHERE {key} >= %s AND {key} < %s AND ({code} IS NULL)"
    start = SPARSE_ID - (sample + 1) * BATCH
    began = time.perf_counter()
    with connection.cursor() as cursor:
        for low in range(start, start + sample * BATCH, BATCH):
            cursor.execute(sql, ["x", low, low + BATCH])
    return (time.perf_counter() - began) / sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backend", nargs="+", choices=["postgresql", "mysql"], default=["postgresql", "mysql"]
    )
    parser.add_argument("--rows", type=int, default=200_000, help="rows (default 200000)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument(
        "--walk-sample",
        type=int,
        default=2000,
        help="empty ranges timed to estimate the old walk of the sparse table (default 2000)",
    )
    options = parser.parse_args()

    with ExitStack() as stack:
        entries = {
            backend: stack.enter_context(scratch_database(backend, "green_bench_sparse"))
            for backend in options.backend
        }
        setup_django(entries)
        from django.db import connections

        stack.callback(connections.close_all)  # before the databases are dropped
        models = make_models()
        print(
            f"{'backend':<11} {'table':<7} {'rows':>8} {'ours':>8} {'stock':>8} {'ratio':>6} "
            f"{'UPDATEs':>8} {'range walk':>11} {'walk time':>10}"
        )
        for alias in options.backend:
            for kind in options.kinds:
                model = models[kind]
                fill(alias, model, kind, options.rows)
                walk = range_walk_statements(alias, model)
                variants = ["ours", "stock"] + (["walk"] if kind == "dense" else [])
                timings: dict[str, list[float]] = {variant: [] for variant in variants}
                statements = 0
                for round_ in range(options.repeat):
                    shift = round_ % len(variants)  # the order rotates
                    for variant in variants[shift:] + variants[:shift]:
                        if variant == "ours":
                            took, changed, statements = ours(alias, model)
                        elif variant == "stock":
                            took, changed = stock(alias, model)
                        else:
                            took, changed = range_walk(alias, model)
                        assert changed == options.rows, (variant, changed)
                        timings[variant].append(took)
                        reset(alias, model)
                mine, theirs = (statistics.median(timings[v]) for v in ("ours", "stock"))
                estimate = "-"
                if kind == "dense":
                    estimate = f"{statistics.median(timings['walk']):.2f}s"
                if kind == "sparse":
                    # The ranges holding rows cost what ours costs; the rest are empty.
                    each = empty_range_seconds(alias, model, options.walk_sample)
                    dense_ranges = -(-options.rows // BATCH)
                    estimate = f"{mine + (walk - dense_ranges) * each:.0f}s"
                print(
                    f"{alias:<11} {kind:<7} {options.rows:>8} {mine:7.2f}s {theirs:7.2f}s "
                    f"{mine / theirs:6.2f} {statements:>8} {walk or '-':>11} {estimate:>10}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
