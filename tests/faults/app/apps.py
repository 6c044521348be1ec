"""The crash matrix's app."""

from django.apps import AppConfig


class FaultsConfig(AppConfig):
    """The app whose migrations the crash matrix applies, labelled "faults"."""

    name = "tests.faults.app"
    label = "faults"
