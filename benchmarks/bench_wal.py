"""WAL written, and the application's longest write, under the backfill's session settings.

PostgreSQL only. For each pair of ``wal_compression`` and
``backend_flush_after``: the server's defaults (``off``, ``0``), then
``lz4`` as green_makemigrations sets it for its session, then both as it
sets them (``lz4``, ``256kB``), on a fresh table of ``--rows`` rows:

- ``CREATE INDEX CONCURRENTLY`` on one column: the WAL it writes;
- a backfill of one column on every row, 1,000 ids per ``UPDATE`` in
  autocommit (as ``backfill.update_in_batches`` does), while another
  process inserts or updates one row every 2 ms: the WAL the backfill writes,
  how long it takes, and the longest, 99.9th percentile and count above
  100 ms of the other process's statements.

Usage::

    python benchmarks/bench_wal.py --rows 5000000 --repeat 3

The figures quoted in benchmarks/README.rst ("WAL compression", "Page
writes of a backfill") come from this script; the stalls vary from run to
run with the disk, hence the repeats, alternating the settings.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import time
from typing import Any

from scratch_db import connect, execute, scratch_database

BATCH = 1000
LOAD_PAUSE = 0.002


def fill(entry: dict[str, Any], rows: int) -> None:
    """Create the table anew with rows rows."""
    connection = connect(entry)
    try:
        execute(connection, "DROP TABLE IF EXISTS item")
        execute(
            connection,
            "CREATE TABLE item (id bigserial PRIMARY KEY, name varchar(50) NOT NULL, "
            "legacy integer NOT NULL, qty integer NOT NULL, heritage integer)",
        )
        execute(
            connection,
            "INSERT INTO item (name, legacy, qty) SELECT 'item ' || g, g % 1000, g "
            f"FROM generate_series(1, {int(rows)}) g",
        )
        execute(connection, "VACUUM ANALYZE item")
        execute(connection, "CHECKPOINT")
    finally:
        connection.close()


def wal_position(connection: Any) -> int:
    """Return the current WAL position in bytes."""
    return int(execute(connection, "SELECT pg_current_wal_lsn() - '0/0'").fetchone()[0])


def load(entry: dict[str, Any], rows: int, stop: Any, out: Any) -> None:
    """Insert or update one row every LOAD_PAUSE seconds until stop; put the latencies."""
    connection = connect(entry)
    latencies = []
    while not stop.is_set():
        began = time.perf_counter()
        if random.random() < 0.5:
            execute(connection, "INSERT INTO item (name, legacy, qty) VALUES ('x', 1, 1)")
        else:
            execute(
                connection,
                "UPDATE item SET qty = qty + 1 WHERE id = %s",
                [random.randint(1, rows)],
            )
        latencies.append(time.perf_counter() - began)
        time.sleep(LOAD_PAUSE)
    connection.close()
    out.put(latencies)


SETTINGS = (("off", "0"), ("lz4", "0"), ("lz4", "256kB"))


def measure(
    entry: dict[str, Any], rows: int, compression: str, flush_after: str
) -> dict[str, float]:
    """Return the figures of one run with the session's two settings."""
    fill(entry, rows)
    connection = connect(entry)
    execute(connection, f"SET wal_compression = {compression}")
    execute(connection, f"SET backend_flush_after = '{flush_after}'")
    start = wal_position(connection)
    execute(connection, "CREATE INDEX CONCURRENTLY item_name_idx ON item (name)")
    index_mb = (wal_position(connection) - start) / 2**20

    stop, out = multiprocessing.Event(), multiprocessing.Queue()
    worker = multiprocessing.Process(target=load, args=(entry, rows, stop, out))
    worker.start()
    time.sleep(2)
    start, began = wal_position(connection), time.perf_counter()
    for low in range(1, rows + 1, BATCH):
        execute(
            connection,
            "UPDATE item SET heritage = legacy WHERE id >= %s AND id < %s "
            "AND heritage IS DISTINCT FROM legacy",
            [low, low + BATCH],
        )
    took = time.perf_counter() - began
    backfill_mb = (wal_position(connection) - start) / 2**20
    connection.close()
    stop.set()
    latencies = sorted(out.get())
    worker.join()
    return {
        "index_mb": index_mb,
        "backfill_mb": backfill_mb,
        "backfill_s": took,
        "max": latencies[-1],
        "p999": latencies[int(len(latencies) * 0.999)],
        "over_100ms": sum(latency > 0.1 for latency in latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows (default 1000000)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each setting (default 2)")
    options = parser.parse_args()
    print(
        f"{'wal_compression':<16} {'flush_after':<12} {'index WAL':>10} {'backfill WAL':>13} "
        f"{'backfill':>9} {'longest':>8} {'p99.9':>7} {'>100ms':>6}"
    )
    results: dict[tuple[str, str], list[dict[str, float]]] = {pair: [] for pair in SETTINGS}
    with scratch_database("postgresql", "green_bench_wal") as entry:
        for _ in range(options.repeat):
            for (compression, flush_after), runs in results.items():  # alternated: disk drifts
                run = measure(entry, options.rows, compression, flush_after)
                runs.append(run)
                print(
                    f"{compression:<16} {flush_after:<12} {run['index_mb']:8.0f}MB "
                    f"{run['backfill_mb']:11.0f}MB {run['backfill_s']:8.1f}s "
                    f"{run['max']:7.3f}s {run['p999']:6.3f}s {run['over_100ms']:6.0f}",
                    flush=True,
                )

    def mean(pair: tuple[str, str], key: str) -> float:
        return sum(run[key] for run in results[pair]) / options.repeat

    default, compressed, _ = SETTINGS
    for key, label in (("index_mb", "index WAL"), ("backfill_mb", "backfill WAL")):
        print(f"{label}: lz4 / off = {mean(compressed, key) / mean(default, key):.2f}")
    for pair in SETTINGS:
        longest = max(run["max"] for run in results[pair])
        print(
            f"{'/'.join(pair)}: longest write {longest:.3f}s, "
            f"backfill {mean(pair, 'backfill_s'):.1f}s on average"
        )


if __name__ == "__main__":
    main()
