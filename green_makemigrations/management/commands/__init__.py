"""makemigrations, migrate and showstages."""
