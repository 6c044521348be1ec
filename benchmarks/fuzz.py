"""Long-run differential fuzzing of green_makemigrations against stock Django.

Run from the repository root::

    python benchmarks/fuzz.py [--minutes 10] [--backend sqlite|postgresql|mysql]
        [--seed N] [--shrink] [--kinds rename_field,change_type,...] [--runs 2]
        [--include-known]

Plays random scenarios (tests/fuzz: a random small app, one or more
makemigrations runs of random changes, one deploy) with the harness of
tests/fuzz/test_differential.py, on a throw-away test database
(``GREEN_TEST_DB_NAME``, default ``test_fuzz_bench``), until the time is up.
Prints the cases per hour and, for every failure, its message and its
reproduction: the models of each release as code and the commands.
``--shrink`` lets hypothesis shrink each failure first (slow: minutes).
Scenarios matching the test's KNOWN_ISSUES are skipped unless
``--include-known``. Exits 1 if anything failed.
"""

from __future__ import annotations

import argparse
import faulthandler
import os
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "mysql"), default="sqlite")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (default: random)")
    parser.add_argument("--cases", type=int, default=None, help="stop after this many cases")
    parser.add_argument("--shrink", action="store_true")
    parser.add_argument("--kinds", default="", help="comma-separated change kinds (default: all)")
    parser.add_argument("--runs", type=int, default=2, help="most makemigrations runs per deploy")
    parser.add_argument("--include-known", action="store_true")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = f"tests.settings.{args.backend}"
    os.environ.setdefault("GREEN_TEST_DB_NAME", "test_fuzz_bench")
    if args.backend == "sqlite":
        os.environ.setdefault(
            "GREEN_SQLITE_NAME", str(Path(tempfile.gettempdir()) / "fuzz.sqlite3")
        )

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases
    from hypothesis import HealthCheck, Phase, given, seed, settings

    from tests.fuzz import harness
    from tests.fuzz.strategies import CHANGES, Scenario, scenarios
    from tests.fuzz.test_differential import known_issue

    kinds = tuple(args.kinds.split(",")) if args.kinds else tuple(CHANGES)
    unknown = set(kinds) - set(CHANGES)
    if unknown:
        parser.error(f"unknown change kinds {sorted(unknown)}; choose from {sorted(CHANGES)}")

    old_config = setup_databases(verbosity=0, interactive=False)
    counts: Counter[str] = Counter()
    failures: list[tuple[int, str, str]] = []
    first = args.seed if args.seed is not None else random.randrange(2**32)
    deadline = time.monotonic() + args.minutes * 60
    started = time.monotonic()
    number = 0

    class OutOfTime(Exception):
        """Stop the hypothesis run."""

    def out_of_time() -> bool:
        return time.monotonic() > deadline or (args.cases is not None and number >= args.cases)

    # One hypothesis run that records failures instead of raising them (so it
    # keeps generating); with --shrink, the first failure is raised and shrunk.
    @seed(first)
    @settings(
        max_examples=10**6,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink] if args.shrink else [Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(scenario=scenarios(kinds=kinds, max_runs=args.runs))
    def fuzz(scenario: Scenario) -> None:
        nonlocal number
        if out_of_time():
            raise OutOfTime
        number += 1
        if not args.include_known and known_issue(scenario, connection.vendor):
            counts["known"] += 1
            return
        # A case that hangs (a lock waiting for itself) shows where.
        faulthandler.dump_traceback_later(300, exit=True)
        try:
            with tempfile.TemporaryDirectory() as root:
                outcome = harness.play(Path(root), scenario)
        except harness.StockCannot as error:
            faulthandler.cancel_dump_traceback_later()
            counts["stock cannot"] += 1
            if args.verbose:
                print(f"case {number}: {error}", flush=True)
            return
        except Exception as error:
            faulthandler.cancel_dump_traceback_later()
            counts["failed"] += 1
            if args.shrink:
                raise
            message = (
                str(error) if isinstance(error, harness.FuzzFailure) else traceback.format_exc()
            )
            text = harness.reproduction(scenario, connection.vendor)
            failures.append((number, message, text))
            print(f"\n=== FAILURE (case {number}) ===\n{message}\n{text}", flush=True)
            return
        faulthandler.cancel_dump_traceback_later()
        counts["refused" if outcome.refused else "passed"] += 1
        if args.verbose:
            changes = " | ".join("; ".join(run.changes) for run in scenario.runs)
            result = f"refused: {outcome.refused}" if outcome.refused else outcome.files
            print(f"case {number}: {changes}\n    -> {result}", flush=True)
        if number % 25 == 0:
            print(f"{number} cases: {dict(counts)}", flush=True)

    try:
        fuzz()
    except OutOfTime:
        pass
    except Exception:
        traceback.print_exc()
        failures.append((number, "shrunk failure above", ""))
    finally:
        teardown_databases(old_config, verbosity=0)
    elapsed = time.monotonic() - started
    print(
        f"\n{number} cases in {elapsed:.0f} s on {args.backend} "
        f"({number / elapsed * 3600:.0f} cases per hour), seed {first}: "
        f"{dict(counts)}"
    )
    for case, message, _ in failures:
        print(f"  case {case}: {message.splitlines()[0] if message else ''}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
