"""otherapp's makemigrations: Django's, checking each migration it wrote."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.core.management.commands.makemigrations import Command as MakeMigrationsCommand
from django.db.migrations import Migration

from otherapp import RECORD
from otherapp.autodetector import OtherAutodetector


class Command(MakeMigrationsCommand):
    help = "Creates new migration(s) for apps and checks them."
    autodetector = OtherAutodetector

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--other-flag", action="store_true", help="Check strictly.")

    def handle(self, *app_labels: str, **options: Any) -> None:
        self.other_flag = options["other_flag"]
        super().handle(*app_labels, **options)

    # The one-parameter signature of older Django, as django-migration-linter keeps it.
    def write_migration_files(self, changes: dict[str, list[Migration]]) -> None:  # type: ignore[override]
        super().write_migration_files(changes)
        if self.dry_run:
            return
        mode = "strictly" if self.other_flag else "leniently"
        for app_label, migrations in changes.items():
            for migration in migrations:
                line = f"checked {app_label}.{migration.name} {mode}"
                RECORD.append(line)
                self.stdout.write(f"otherapp: {line}")
