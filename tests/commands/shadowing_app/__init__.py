"""An app with its own ``migrate`` command (for green_makemigrations.E001)."""
