"""The ``GREEN_MAKEMIGRATIONS`` setting, read lazily so ``override_settings`` works.

Keys:

``STAGES``
    Stage of migrations that do not write one (hand-written, third-party, older
    history), keyed by ``"app_label"`` or ``"app_label.migration_name"``; values
    spelled as everywhere else (``Stage.from_label()``: ``"pre-deploy"``,
    ``"pre_deploy"``, ``Stage.PRE_DEPLOY``...). The more specific key wins;
    without a key the stage is inferred from the operations. A key that names
    no installed app, or no migration of one, is an error (check E002; a stage
    run refuses to start).

``LOCK_TIMEOUT`` / ``LOCK_RETRIES``
    How long (seconds, default 0.5) a ``migrate --stage`` run waits for a
    lock before giving up on a migration, and how many times (default 10) it
    then tries again, with backoff. ``migrate --lock-timeout`` and
    ``--lock-retries`` override them for one run.

``RUN_LOCK_TIMEOUT``
    How long (seconds, default 600) a ``migrate`` run waits for another run on
    the same database to finish before it gives up, having changed nothing.
    ``migrate --run-lock-timeout`` overrides it for one run. See ``runlock.py``.

``WAL_COMPRESSION``
    PostgreSQL ``wal_compression`` method for the session of a batched
    backfill or concurrent index build (default ``"lz4"``; ``None`` keeps the
    server's setting). See ``wal.py``.

``BACKFILL_FLUSH_AFTER``
    PostgreSQL ``backend_flush_after`` for the session of a batched
    backfill: ``"8kB"`` to ``"2MB"`` (default ``"256kB"``; ``None`` keeps the
    server's setting). See ``writeback.py``.

``BACKFILL_NICE_RATIO``
    After each batch of a backfill, sleep this many times as long as the
    batch took (default 0: no pause; 1: half the time writing, half
    waiting). See ``backfill.py``.

``VERIFY``
    Whether ``makemigrations`` proves the migrations it writes and ``migrate
    --stage pre-deploy`` the pending plan before changing anything (default
    ``True``); ``--skip-verify`` turns it off for one run.

``VERIFY_ACCEPT``
    Migrations (``"app_label.migration_name"``) whose ``RunSQL`` and
    ``RunPython`` operations ``verifystages`` accepts as they are instead of
    reporting them as not proven (see verify/derive.py for declaring their
    effect instead).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

from django.conf import settings

from .constants import STAGE_SPELLINGS, Stage
from .exceptions import StageConfigurationError
from .locks import LockPolicy

SETTING_NAME = "GREEN_MAKEMIGRATIONS"
KNOWN_KEYS = frozenset(
    {
        "STAGES",
        "LOCK_TIMEOUT",
        "LOCK_RETRIES",
        "RUN_LOCK_TIMEOUT",
        "WAL_COMPRESSION",
        "BACKFILL_FLUSH_AFTER",
        "BACKFILL_NICE_RATIO",
        "VERIFY",
        "VERIFY_ACCEPT",
    }
)
WAL_COMPRESSION_METHODS = ("lz4", "zstd", "pglz", "on")
DEFAULT_NICE_RATIO = 0.0
DEFAULT_RUN_LOCK_TIMEOUT = 600.0
DEFAULT_FLUSH_AFTER = "256kB"
FLUSH_AFTER_PATTERN = re.compile(r"([0-9]+)(kB|MB)")
FLUSH_AFTER_RANGE_KB = (8, 2048)  # PostgreSQL's bounds: one page to 256 pages


def get_setting() -> Mapping[str, Any]:
    """Return the raw settings dict (empty when unset)."""
    value = getattr(settings, SETTING_NAME, None) or {}
    if not isinstance(value, Mapping):
        raise StageConfigurationError(f"{SETTING_NAME} must be a dict, not {type(value).__name__}.")
    return value


def setting_errors() -> list[str]:
    """Return a message for each problem in the setting (used by system checks)."""
    try:
        value = get_setting()
    except StageConfigurationError as error:
        return [str(error)]
    errors = [
        f"{SETTING_NAME} has an unknown key {key!r}; known keys: {', '.join(sorted(KNOWN_KEYS))}."
        for key in value
        if key not in KNOWN_KEYS
    ]
    for check in (
        stage_overrides,
        lock_policy,
        run_lock_timeout,
        wal_compression,
        backfill_flush_after,
        backfill_nice_ratio,
        verify_enabled,
        verify_accept,
    ):
        try:
            check()
        except StageConfigurationError as error:
            errors.append(str(error))
    return errors


def lock_policy(timeout: float | None = None, retries: int | None = None) -> LockPolicy:
    """Return the lock policy of a stage run: arguments, else settings, else defaults."""
    value = get_setting()
    default = LockPolicy()
    if timeout is None:
        timeout = value.get("LOCK_TIMEOUT", default.timeout)
    if retries is None:
        retries = value.get("LOCK_RETRIES", default.retries)
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or timeout <= 0:
        raise StageConfigurationError(
            f"The lock timeout (--lock-timeout, {SETTING_NAME}['LOCK_TIMEOUT']) must be "
            "a number of seconds above 0, "
            f"not {timeout!r}."
        )
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise StageConfigurationError(
            f"The lock retries (--lock-retries, {SETTING_NAME}['LOCK_RETRIES']) must be "
            "a whole number, 0 or more, "
            f"not {retries!r}."
        )
    return LockPolicy(timeout=float(timeout), retries=retries)


def run_lock_timeout(seconds: float | None = None) -> float:
    """Return how long a migrate run waits for another one: argument, else setting, else 600."""
    if seconds is None:
        seconds = get_setting().get("RUN_LOCK_TIMEOUT", DEFAULT_RUN_LOCK_TIMEOUT)
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
        raise StageConfigurationError(
            f"The run lock timeout (--run-lock-timeout, {SETTING_NAME}['RUN_LOCK_TIMEOUT']) "
            f"must be a number of seconds, 0 or more, not {seconds!r}."
        )
    return float(seconds)


def stage_overrides() -> dict[str, Stage]:
    """Return ``STAGES`` with every value turned into a ``Stage``."""
    raw = get_setting().get("STAGES", {}) or {}
    if not isinstance(raw, Mapping):
        raise StageConfigurationError(f"{SETTING_NAME}['STAGES'] must be a dict.")
    overrides = {}
    for key, value in raw.items():
        try:
            overrides[str(key)] = Stage.from_label(value)
        except ValueError:
            raise StageConfigurationError(
                f"{SETTING_NAME}['STAGES'][{key!r}] is {value!r}; use {STAGE_SPELLINGS}."
            ) from None
    return overrides


def unmatched_stage_keys(
    app_labels: Collection[str], migration_keys: Collection[tuple[str, str]] | None = None
) -> list[str]:
    """Return a message for each ``STAGES`` key that matches nothing.

    Without migration_keys: each key whose app label is not in app_labels.
    With them (the migrations on disk, which take loading): each
    ``app_label.migration_name`` key of a known app naming a migration not
    among them. A malformed setting gives no message here: setting_errors()
    reports it.
    """
    try:
        overrides = stage_overrides()
    except StageConfigurationError:
        return []
    messages = []
    for key in overrides:
        app_label, dot, name = key.partition(".")
        if migration_keys is None and app_label not in app_labels:
            messages.append(
                f"{SETTING_NAME}['STAGES'] has the key {key!r}, but no installed app has "
                f"the label {app_label!r}: it overrides nothing."
            )
        elif (
            migration_keys is not None
            and app_label in app_labels
            and dot
            and (app_label, name) not in migration_keys
        ):
            messages.append(
                f"{SETTING_NAME}['STAGES'] has the key {key!r}, but app {app_label!r} has "
                f"no migration {name!r}: it overrides nothing."
            )
    return messages


def wal_compression() -> str | None:
    """Return the ``wal_compression`` method of backfills and index builds, or None."""
    value = get_setting().get("WAL_COMPRESSION", WAL_COMPRESSION_METHODS[0])
    if value is None or value in WAL_COMPRESSION_METHODS:
        return value  # type: ignore[no-any-return]
    raise StageConfigurationError(
        f"{SETTING_NAME}['WAL_COMPRESSION'] is {value!r}; use one of "
        f"{', '.join(map(repr, WAL_COMPRESSION_METHODS))}, or None to keep the server's "
        "setting."
    )


def backfill_flush_after() -> str | None:
    """Return the ``backend_flush_after`` of backfills, or None to keep the server's."""
    value = get_setting().get("BACKFILL_FLUSH_AFTER", DEFAULT_FLUSH_AFTER)
    if value is None:
        return None
    match = FLUSH_AFTER_PATTERN.fullmatch(value) if isinstance(value, str) else None
    if match:
        kilobytes = int(match[1]) * (1024 if match[2] == "MB" else 1)
        low, high = FLUSH_AFTER_RANGE_KB
        if low <= kilobytes <= high:
            return match[0]
    raise StageConfigurationError(
        f"{SETTING_NAME}['BACKFILL_FLUSH_AFTER'] is {value!r}; use an amount from '8kB' "
        "to '2MB' (e.g. '256kB'), or None to keep the server's setting."
    )


def backfill_nice_ratio() -> float:
    """Return how many times as long as each backfill batch to sleep after it."""
    value = get_setting().get("BACKFILL_NICE_RATIO", DEFAULT_NICE_RATIO)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 100:
        raise StageConfigurationError(
            f"{SETTING_NAME}['BACKFILL_NICE_RATIO'] is {value!r}; use a number from 0 "
            "(no pause between batches) to 100."
        )
    return float(value)


def verify_enabled() -> bool:
    """Return whether the commands prove their plans (VERIFY, default True)."""
    value = get_setting().get("VERIFY", True)
    if not isinstance(value, bool):
        raise StageConfigurationError(
            f"{SETTING_NAME}['VERIFY'] must be True or False, not {value!r}."
        )
    return value


def verify_accept() -> list[str]:
    """Return the migrations whose unknown operations the proof accepts (VERIFY_ACCEPT)."""
    value = get_setting().get("VERIFY_ACCEPT", [])
    if isinstance(value, str) or not all(isinstance(item, str) for item in value):
        raise StageConfigurationError(
            f"{SETTING_NAME}['VERIFY_ACCEPT'] must be a list of 'app_label.migration_name' "
            f"strings, not {value!r}."
        )
    return list(value)
