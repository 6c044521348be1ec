"""Another app's ``squashmigrations``: shadows green_makemigrations' when listed first."""

from django.core.management.commands.squashmigrations import Command as DjangoSquashCommand


class Command(DjangoSquashCommand):
    help = "Django's squashmigrations, provided by another app."
