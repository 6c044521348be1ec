"""The project under project/ is run by pytester in a pytest of its own, not collected here."""

collect_ignore = ["project"]
