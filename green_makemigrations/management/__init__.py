"""Management commands of green_makemigrations."""
