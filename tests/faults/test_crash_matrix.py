"""The crash matrix: every custom operation killed before and after each statement it sends.

Each scenario under scenarios/ is a release N and the migrations the package
generates for release N+1 (``python -m tests.faults.generate`` writes them).
Its phases are the deploy (``migrate --stage pre-deploy``, then
``--stage post-deploy``) and the rollback, one migration at a time (in its
two stages when the migrations are not one chain: a release written by two
makemigrations runs). A
reference run (driver.py, a subprocess) seeds rows with NULLs and edge
values, runs each phase after the writes of the release running during it,
and records the statements each phase sends (those the migration executor
executes while it applies or unapplies a migration, caught by an execute
wrapper, not picked by hand) and the database it leaves.

A point is a phase, a statement k and ``before`` or ``after``. For each
point a child of the driver sets the database up as the reference had it
before the phase and runs the phase, killing itself with SIGKILL right
before or right after statement k; then a second child makes the running
release's writes (which the reference made before the phase) and runs the
phase again. It must succeed and leave the database as the reference did:
every row of every table (so no write of the running release is lost), the
columns, indexes, constraints (none ``NOT VALID``, no index INVALID),
triggers, functions and views (none left over), the applied migrations.

By default each scenario runs one point chosen deterministically and
differently on each Django version and backend, so the CI runs cover more,
and the points where the full matrix found a bug (driver.PINNED).
``GREEN_CRASH_MATRIX=full`` runs every point (run it on the three backends
before resolving a change to the operations); ``GREEN_CRASH_MATRIX=<n>``
runs n sampled points per scenario.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import django
import pytest

from .driver import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]
SCENARIO_NAMES = sorted(p.name for p in SCENARIOS.iterdir() if (p / "migrations").is_dir())
TIMEOUT = 3600
# Schema objects (driver.SCHEMA_QUERIES) no release's final schema has.
RELEASE_LEFTOVERS = ("trigger ", "function ", "routine ", "relation v ", "relation VIEW ", "view ")


def run_matrix(database: dict[str, Any], scenario: str, vendor: str) -> dict[str, Any]:
    """Run driver.py on scenario: the reference and the points GREEN_CRASH_MATRIX asks for."""
    salt = f"{vendor}-{django.VERSION[0]}.{django.VERSION[1]}"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.faults.driver",
            scenario,
            os.environ.get("GREEN_CRASH_MATRIX", ""),
            salt,
        ],
        cwd=ROOT,
        env={**os.environ, "GREEN_FAULTS_DATABASE": json.dumps(database)},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert completed.returncode == 0, completed.stderr[-5000:]
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def difference(expected: dict[str, Any], found: dict[str, Any]) -> str:
    """Describe how the database after the re-run differs from the reference's."""
    lines = []
    if expected["applied"] != found["applied"]:
        lines.append(f"applied migrations: {found['applied']}, expected {expected['applied']}")
    missing = sorted(set(expected["objects"]) - set(found["objects"]))
    extra = sorted(set(found["objects"]) - set(expected["objects"]))
    lines += [f"missing: {item}" for item in missing] + [f"left over: {item}" for item in extra]
    for table in sorted(set(expected["rows"]) | set(found["rows"])):
        want, got = expected["rows"].get(table), found["rows"].get(table)
        if want == got:
            continue
        if want is None or got is None:
            lines.append(f"table {table}: {'left over' if want is None else 'missing'}")
            continue
        lost = sorted(set(want) - set(got))
        wrong = sorted(set(got) - set(want))
        lines.append(f"table {table}: {len(got)} rows, expected {len(want)}")
        lines += [f"  expected row {row}" for row in lost[:5]]
        lines += [f"  found row    {row}" for row in wrong[:5]]
    return "\n".join(lines)


def failure(scenario: str, point: dict[str, Any], expected: dict[str, Any]) -> str | None:
    """Return what went wrong at a point of the matrix, or None."""
    where = (
        f"{scenario} {point['phase']}, killed {point['when']} statement {point['number']} "
        f"({point['operation']}: {point['statement']})"
    )
    if point["error"]:
        last = point["error"].strip().splitlines()[-1]
        return f"{where}:\n{last}\n{point['error'][-2000:]}"
    differs = difference(expected, point["after"])
    return f"{where}: after the re-run\n{differs}" if differs else None


@pytest.mark.parametrize("scenario", SCENARIO_NAMES)
def test_crash_matrix(scenario: str, faults_database: dict[str, Any], vendor: str) -> None:
    """Each point crashed and re-run leaves the database as the crash-free run does."""
    started = time.monotonic()
    result = run_matrix(faults_database, scenario, vendor)
    reference = {phase["phase"]: phase for phase in result["reference"]}
    for phase in reference.values():
        # What the crash-free run leaves must be clean itself.
        unfinished = [o for o in phase["after"]["objects"] if "INVALID" in o or "NOT VALID" in o]
        assert not unfinished, (phase["phase"], unfinished)
    for name in {"post-deploy", result["reference"][-1]["phase"]} & set(reference):
        # Once deployed, and once rolled back to release N, nothing of the sync or the views.
        objects = reference[name]["after"]["objects"]
        assert not [o for o in objects if o.startswith(RELEASE_LEFTOVERS)], (name, objects)
    failures = []
    for point in result["points"]:
        message = failure(scenario, point, reference[point["phase"]]["after"])
        if message:
            failures.append(message)
    total = sum(len(phase["statements"]) for phase in reference.values())
    print(
        f"{scenario}: {len(result['points'])} of {2 * total} points, {len(failures)} failed, "
        f"{time.monotonic() - started:.1f} s"
    )
    assert not failures, "\n\n".join(failures)
