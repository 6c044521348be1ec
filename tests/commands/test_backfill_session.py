"""The PostgreSQL session settings of a backfill and a concurrent index build.

Both compress their WAL (wal.py); a backfill also has its page writes
flushed as it goes (writeback.py). What the session's setting is while the
work runs is read by the work itself: the backfill writes
``current_setting(...)`` into the rows it updates, the index build records
``SHOW``. Whether the settings shorten the application's waits is measured
in benchmarks/ (bench_wal.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.db import DatabaseError, connection, models, transaction
from django.test import override_settings
from django.test.utils import CaptureQueriesContext, isolate_apps

from green_makemigrations import conf
from green_makemigrations.backfill import update_in_batches
from green_makemigrations.conf import setting_errors
from green_makemigrations.exceptions import StageConfigurationError
from green_makemigrations.operations import build_index_concurrently
from green_makemigrations.session import read_setting
from green_makemigrations.wal import compressed_wal
from green_makemigrations.writeback import flushed_writes

from .utils import table_of

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL session settings"
)


def compression() -> str:
    """Return the session's wal_compression."""
    return read_setting(connection, "wal_compression")


@pytest.fixture
def note_model(transactional_db: None) -> Iterator[type[models.Model]]:
    """A table of three notes without text, dropped afterwards."""
    with isolate_apps("tests.testapp"):

        class Note(models.Model):
            text = models.CharField(max_length=20, null=True)

            class Meta:
                app_label = "testapp"
                db_table = "green_wal_note"

        with table_of(Note):
            Note.objects.bulk_create([Note() for _ in range(3)])
            yield Note


def backfill_setting(model: type[models.Model], name: str = "wal_compression") -> list[str | None]:
    """Backfill each note with the session's setting name, two rows a batch."""
    with connection.schema_editor(atomic=False) as editor:
        update_in_batches(
            editor, model, f"text = current_setting('{name}')", "text IS NULL", batch_size=2
        )
    return list(model.objects.order_by("pk").values_list("text", flat=True))  # type: ignore[attr-defined]


@postgresql_only
def test_backfill_compresses_its_wal_then_restores_the_setting(
    note_model: type[models.Model],
) -> None:
    before = compression()
    assert before == "off"  # the server's default; nothing to compress otherwise
    assert backfill_setting(note_model) == ["lz4"] * 3
    assert compression() == before


@postgresql_only
@override_settings(GREEN_MAKEMIGRATIONS={"WAL_COMPRESSION": None})
def test_backfill_keeps_the_server_setting_when_told(note_model: type[models.Model]) -> None:
    assert backfill_setting(note_model) == ["off"] * 3


@postgresql_only
@override_settings(GREEN_MAKEMIGRATIONS={"WAL_COMPRESSION": "zstd"})
def test_backfill_uses_the_configured_method(note_model: type[models.Model]) -> None:
    assert backfill_setting(note_model) == ["zstd"] * 3


@postgresql_only
def test_concurrent_index_build_compresses_its_wal(transactional_db: None) -> None:
    seen: list[str] = []
    with connection.schema_editor(atomic=False) as editor:
        build_index_concurrently(
            editor, "green_wal_no_such_index", lambda: seen.append(compression())
        )
    assert seen == ["lz4"]
    assert compression() == "off"


@postgresql_only
def test_a_method_the_server_refuses_falls_back_to_pglz(transactional_db: None) -> None:
    with compressed_wal(connection, "brotli"):
        assert compression() == "pglz"
    assert compression() == "off"


@pytest.fixture
def unprivileged(db: None) -> Iterator[None]:
    """Run the test as a new role without privileges, in the test's transaction."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE ROLE green_session_unprivileged")
        cursor.execute("SET ROLE green_session_unprivileged")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


@postgresql_only
def test_a_user_who_may_not_set_it_changes_nothing(unprivileged: None) -> None:
    """Without the privilege the setting stays, and the transaction goes on."""
    assert transaction.get_connection().in_atomic_block
    with compressed_wal(connection, "lz4"):
        assert compression() == "off"
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            assert cursor.fetchone() == (1,)


def test_other_databases_and_none_send_no_statement(transactional_db: None) -> None:
    """Elsewhere, and with the method None, the block runs without a query around it."""
    method = "lz4" if connection.vendor != "postgresql" else None
    ran = []
    with CaptureQueriesContext(connection) as captured:
        with compressed_wal(connection, method):
            ran.append(True)
    assert ran == [True]
    assert captured.captured_queries == []


def test_setting_refuses_an_unknown_method() -> None:
    with override_settings(GREEN_MAKEMIGRATIONS={"WAL_COMPRESSION": "gzip"}):
        with pytest.raises(StageConfigurationError) as error:
            conf.wal_compression()
        message = str(error.value)
        assert "GREEN_MAKEMIGRATIONS['WAL_COMPRESSION'] is 'gzip'" in message
        assert "'lz4', 'zstd', 'pglz', 'on', or None" in message
        assert setting_errors() == [message]


# -- backend_flush_after (writeback.py) ----------------------------------------


def flush_after() -> str:
    """Return the session's backend_flush_after."""
    return read_setting(connection, "backend_flush_after")


@postgresql_only
def test_backfill_flushes_its_writes_then_restores_the_setting(
    note_model: type[models.Model],
) -> None:
    assert flush_after() == "0"  # the server's default: the kernel decides
    assert backfill_setting(note_model, "backend_flush_after") == ["256kB"] * 3
    assert flush_after() == "0"


@postgresql_only
@override_settings(GREEN_MAKEMIGRATIONS={"BACKFILL_FLUSH_AFTER": "1MB"})
def test_backfill_flushes_the_configured_amount(note_model: type[models.Model]) -> None:
    assert backfill_setting(note_model, "backend_flush_after") == ["1MB"] * 3


@postgresql_only
@override_settings(GREEN_MAKEMIGRATIONS={"BACKFILL_FLUSH_AFTER": None})
def test_backfill_keeps_the_server_flush_setting_when_told(note_model: type[models.Model]) -> None:
    assert backfill_setting(note_model, "backend_flush_after") == ["0"] * 3


@postgresql_only
def test_an_amount_the_operator_chose_stays(note_model: type[models.Model]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET backend_flush_after = '64kB'")
    try:
        assert backfill_setting(note_model, "backend_flush_after") == ["64kB"] * 3
        assert flush_after() == "64kB"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET backend_flush_after")


@postgresql_only
def test_a_backfill_that_fails_restores_the_flush_setting(note_model: type[models.Model]) -> None:
    with pytest.raises(DatabaseError, match="green_no_such_column"):
        with connection.schema_editor(atomic=False) as editor:
            update_in_batches(editor, note_model, "text = green_no_such_column", "text IS NULL")
    assert flush_after() == "0"


@postgresql_only
def test_any_user_may_have_its_writes_flushed(unprivileged: None) -> None:
    """backend_flush_after needs no privilege, unlike wal_compression."""
    with flushed_writes(connection, "256kB"):
        assert flush_after() == "256kB"
    assert flush_after() == "0"


def test_flushing_sends_no_statement_elsewhere_or_with_none(transactional_db: None) -> None:
    amount = "256kB" if connection.vendor != "postgresql" else None
    with CaptureQueriesContext(connection) as captured:
        with flushed_writes(connection, amount):
            pass
    assert captured.captured_queries == []


@pytest.mark.parametrize("value", ["256", "4kB", "3MB", "256 kB", 256, "1GB"])
def test_flush_setting_refuses_other_values(value: object) -> None:
    with override_settings(GREEN_MAKEMIGRATIONS={"BACKFILL_FLUSH_AFTER": value}):
        with pytest.raises(StageConfigurationError) as error:
            conf.backfill_flush_after()
        message = str(error.value)
        assert f"GREEN_MAKEMIGRATIONS['BACKFILL_FLUSH_AFTER'] is {value!r}" in message
        assert "from '8kB' to '2MB'" in message
        assert setting_errors() == [message]


# Setting key: (its reader in conf, its default, values it accepts).
SESSION_SETTINGS: dict[str, tuple[Callable[[], str | None], str, list[str | None]]] = {
    "WAL_COMPRESSION": (conf.wal_compression, "lz4", ["lz4", "zstd", "pglz", "on", None]),
    "BACKFILL_FLUSH_AFTER": (
        conf.backfill_flush_after,
        "256kB",
        ["8kB", "256kB", "2MB", "2048kB", None],
    ),
}


@pytest.mark.parametrize(
    ("key", "value"),
    [(key, value) for key, (_, _, values) in SESSION_SETTINGS.items() for value in values],
)
def test_settings_accept_their_values_and_none(key: str, value: str | None) -> None:
    read = SESSION_SETTINGS[key][0]
    with override_settings(GREEN_MAKEMIGRATIONS={key: value}):
        assert read() == value
        assert setting_errors() == []


@pytest.mark.parametrize("key", list(SESSION_SETTINGS))
def test_settings_have_their_default(key: str) -> None:
    read, default, _ = SESSION_SETTINGS[key]
    with override_settings(GREEN_MAKEMIGRATIONS={}):
        assert read() == default
