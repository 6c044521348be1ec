"""otherapp's migrate: Django's, then installs otherapp's database objects."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser
from django.core.management.commands.migrate import Command as MigrateCommand

from otherapp import RECORD
from otherapp.autodetector import OtherAutodetector


class Command(MigrateCommand):
    help = "Updates database schema, then installs otherapp's objects."
    autodetector = OtherAutodetector

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--other-flag", action="store_true", help="Reinstall otherapp's objects."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        other_flag = options.pop("other_flag")
        super().handle(*args, **options)
        action = "reinstalled" if other_flag else "installed"
        line = f"{action} objects on {options['database']}"
        RECORD.append(line)
        self.stdout.write(f"otherapp: {line}")
