"""App configuration of the online DDL app (installed only by test_online_ddl.py)."""

from django.apps import AppConfig


class OnlineDDLConfig(AppConfig):
    name = "tests.commands.online_ddl_app"
    label = "green_ddl"
