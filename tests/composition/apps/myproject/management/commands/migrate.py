"""migrate: otherapp's, with green_makemigrations' --stage."""

from otherapp.management.commands import migrate

from green_makemigrations.commands import MigrateMixin


class Command(MigrateMixin, migrate.Command):
    """otherapp's migrate with the deploy stages."""
