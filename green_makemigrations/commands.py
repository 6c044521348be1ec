"""Mixins that give another app's makemigrations and migrate the deploy stages.

Django runs the makemigrations and migrate of the first app in INSTALLED_APPS
that has one. To keep another app's commands as well as this package's, a
project app listed first composes them (see the composition how-to)::

    class Command(MakemigrationsMixin, other_app_makemigrations.Command): ...

    class Command(MigrateMixin, other_app_migrate.Command): ...

(and SquashmigrationsMixin likewise for squashmigrations).

Each mixin calls super() in every method it overrides, so the other app's
behaviour runs too. Both commands' autodetector is the other app's with
AutodetectorMixin mixed in (green_autodetector(), one class per base, as
Django's check commands.E001 requires), and migrate's executor_class may be
StagedExecutorMixin on another app's executor.
"""

from __future__ import annotations

from .autodetector import AutodetectorMixin, GreenMigrationAutodetector, green_autodetector
from .executor import StagedExecutorMixin, StagedMigrationExecutor, staged_executor
from .management.commands.makemigrations import MakemigrationsMixin
from .management.commands.migrate import MigrateMixin
from .management.commands.squashmigrations import SquashmigrationsMixin

__all__ = [
    "AutodetectorMixin",
    "GreenMigrationAutodetector",
    "MakemigrationsMixin",
    "MigrateMixin",
    "SquashmigrationsMixin",
    "StagedExecutorMixin",
    "StagedMigrationExecutor",
    "green_autodetector",
    "staged_executor",
]
