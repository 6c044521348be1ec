"""Django app configuration."""

from django.apps import AppConfig


class GreenMakemigrationsConfig(AppConfig):
    """Register the system checks."""

    name = "green_makemigrations"
    verbose_name = "Green makemigrations"

    def ready(self) -> None:
        """Import the checks module, which registers the checks."""
        from . import checks  # noqa: F401
