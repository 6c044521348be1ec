"""makemigrations: otherapp's, writing green_makemigrations' staged migrations."""

from otherapp.management.commands import makemigrations

from green_makemigrations.commands import MakemigrationsMixin


class Command(MakemigrationsMixin, makemigrations.Command):
    """otherapp's makemigrations with the deploy stages."""
