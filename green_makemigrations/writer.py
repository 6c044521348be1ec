"""Write the deploy stage into migration files."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from django.db.migrations.writer import MigrationWriter

from .constants import EMPTY_STAGE_COMMENTS, STAGE_COMMENTS, Stage

CLASS_LINE = "class Migration(migrations.Migration):\n"
STAGE_IMPORT = "from green_makemigrations.constants import Stage"


class StagedMigrationWriter(MigrationWriter):
    """A MigrationWriter that writes ``stage = Stage.…`` into the Migration class.

    The stage is the migration's ``stage`` attribute (set by the autodetector,
    or read from the file being rewritten by ``--update``); migrations without
    one (``--empty``, ``--merge``) get the stage of their operations and
    dependencies. Django's template has no slot for extra attributes, so the
    line goes right under the class statement, where a reader sees it first.
    """

    def __init__(self, migration: Any, include_header: bool = True) -> None:
        super().__init__(migration, include_header)
        # Work the stage out now: makemigrations opens the file for writing
        # before it asks for the text, and an empty file on disk would break
        # loading the graph (a merge's stage comes from its dependencies).
        self.stage = self._stage()

    def as_string(self) -> str:
        """Return the migration file's text, stage included."""
        text = super().as_string()
        stage = self.stage
        comment = STAGE_COMMENTS if self.migration.operations else EMPTY_STAGE_COMMENTS
        block = _comment(comment[stage])
        block += f"    stage = Stage.{stage.name}\n"
        if self.migration.atomic is False:
            block += _comment(_not_atomic_comment(self.migration.operations))
            block += "    atomic = False\n"
        if CLASS_LINE not in text:  # pragma: no cover - Django changed its template
            return text
        text = text.replace(CLASS_LINE, CLASS_LINE + block, 1)
        return _add_import(text, STAGE_IMPORT)

    def _stage(self) -> Stage:
        """Return the stage this migration is written with."""
        from .plan import resolve_stage, written_stage

        stage = written_stage(self.migration)
        if stage is not None:
            return stage
        return resolve_stage(
            self.migration, overrides={}, parent_stages=_dependency_stages(self.migration)
        ).stage


def _comment(text: str) -> str:
    """Return text as comment lines of the Migration class."""
    return "".join(f"    # {line}\n" for line in text.splitlines())


def _not_atomic_comment(operations: Sequence[Any]) -> str:
    """Return why a migration is not atomic, naming what runs outside a transaction.

    Empty for a migration the user made non-atomic himself: no comment then
    claims a reason the file does not hold.
    """
    from .operations import runs_outside_transaction

    names = list(
        dict.fromkeys(type(op).__name__ for op in operations if runs_outside_transaction(op))
    )
    if not names:
        return ""
    text = (
        f"Not atomic: {', '.join(names)} {'runs' if len(names) == 1 else 'run'} outside "
        "a transaction (concurrent index builds and constraint validation on "
        "PostgreSQL, batched copies everywhere, commit step by step). A re-run "
        "finishes a failed run."
    )
    return textwrap.fill(text, width=74, break_long_words=False, break_on_hyphens=False)


def _dependency_stages(migration: object) -> list[Stage]:
    """Return the stages of migration's dependencies on disk (for merges)."""
    dependencies = getattr(migration, "dependencies", [])
    if getattr(migration, "operations", None) or not dependencies:
        return []
    from django.db.migrations.loader import MigrationLoader

    from .plan import graph_stages

    loader = MigrationLoader(None, ignore_no_migrations=True)
    stages = graph_stages(loader.graph)
    return [stages[tuple(dep)].stage for dep in dependencies if tuple(dep) in stages]


def _add_import(text: str, line: str) -> str:
    """Insert an import line among the file's imports, in Django's sort order."""
    lines = text.split("\n")
    module = line.split()[1]
    position = 0
    for index, existing in enumerate(lines):
        if existing.startswith(CLASS_LINE.strip()):
            break
        if existing.startswith("from ") and existing.split()[1] > module:
            position = index
            break
        if existing.startswith(("import ", "from ")):
            position = index + 1
    lines.insert(position, line)
    return "\n".join(lines)
