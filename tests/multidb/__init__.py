"""Two apps and a router for the multi-database tests (test_multiple_databases.py)."""
