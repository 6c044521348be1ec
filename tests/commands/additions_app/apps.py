"""App configuration of the additions app (installed only by test_additions.py)."""

from django.apps import AppConfig


class AdditionsConfig(AppConfig):
    name = "tests.commands.additions_app"
    label = "green_add"
