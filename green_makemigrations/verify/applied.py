"""Read a deployed database's applied migrations from a file (``verifystages --applied``).

Accepted, so a CI job can take the list from wherever production gives it:

- ``python manage.py showmigrations --list`` output (app headers, then
  ``[X] 0001_initial`` lines; ``[ ]`` lines are not applied);
- one migration per line, ``app_label.migration_name`` or
  ``app_label migration_name`` (``#`` starts a comment);
- JSON: a list of ``"app_label.migration_name"`` strings or of
  ``[app_label, migration_name]`` pairs.
"""

from __future__ import annotations

import json
import re

from ..exceptions import GreenMigrationsError

MigrationKey = tuple[str, str]
SHOWMIGRATIONS_LINE = re.compile(r"\s+\[(?P<mark>[X ])\]\s+(?P<name>\S+)")


def parse_applied(text: str, source: str = "the applied file") -> set[MigrationKey]:
    """Return the (app_label, name) pairs a file lists as applied."""
    stripped = text.strip()
    if stripped.startswith("["):
        return _from_json(stripped, source)
    applied: set[MigrationKey] = set()
    app_label: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        listed = SHOWMIGRATIONS_LINE.match(line)
        if listed is not None:
            if app_label is None:
                raise GreenMigrationsError(
                    f"{source}, line {number}: {line.strip()!r} comes before any app label."
                )
            if listed["mark"] == "X":
                applied.add((app_label, listed["name"]))
            continue
        if line[0].isspace():
            if line.strip() == "(no migrations)":
                continue
            raise GreenMigrationsError(f"{source}, line {number}: cannot read {line.strip()!r}.")
        parts = line.split()
        if len(parts) == 2:
            applied.add((parts[0], parts[1]))
        elif "." in parts[0] and len(parts) == 1:
            app, _dot, name = parts[0].partition(".")
            applied.add((app, name))
        elif len(parts) == 1:
            app_label = parts[0]  # a showmigrations header
        else:
            raise GreenMigrationsError(f"{source}, line {number}: cannot read {line.strip()!r}.")
    return applied


def _from_json(text: str, source: str) -> set[MigrationKey]:
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as error:
        raise GreenMigrationsError(f"{source} is not valid JSON: {error}.") from None
    applied: set[MigrationKey] = set()
    for entry in entries:
        if isinstance(entry, str) and "." in entry:
            app, _dot, name = entry.partition(".")
            applied.add((app, name))
        elif isinstance(entry, list) and len(entry) == 2 and all(isinstance(e, str) for e in entry):
            applied.add((entry[0], entry[1]))
        else:
            raise GreenMigrationsError(
                f"{source}: {entry!r} is neither 'app_label.name' nor [app_label, name]."
            )
    return applied
