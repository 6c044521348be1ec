"""A test app of the multi-database tests; the router sends it where MULTIDB_ROUTES says."""
