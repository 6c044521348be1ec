"""Models of the in-process test app (filled in by the command tests)."""
