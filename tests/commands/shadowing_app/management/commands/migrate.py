"""Another app's ``migrate``: shadows green_makemigrations' when listed first."""

from django.core.management.commands.migrate import Command as DjangoMigrateCommand


class Command(DjangoMigrateCommand):
    help = "Django's migrate, provided by another app."
