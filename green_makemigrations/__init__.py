"""Zero-downtime ``makemigrations``: split schema changes into deploy stages."""

__version__ = "0.1.0"
