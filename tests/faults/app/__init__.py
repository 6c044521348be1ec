"""The crash matrix's app: no models; its migrations are a scenario's (see driver.py)."""
