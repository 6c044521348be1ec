"""The ``GREEN_MAKEMIGRATIONS`` setting, read lazily so ``override_settings`` works.

Keys:

``STAGES``
    Stage of migrations that do not write one (hand-written, third-party, older
    history), keyed by ``"app_label"`` or ``"app_label.migration_name"``; values
    ``"pre_deploy"`` / ``"post_deploy"`` (or the ``Stage`` members). The more
    specific key wins; without a key the stage is inferred from the operations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings

from .constants import Stage
from .exceptions import StageConfigurationError

SETTING_NAME = "GREEN_MAKEMIGRATIONS"
KNOWN_KEYS = frozenset({"STAGES"})


def get_setting() -> Mapping[str, Any]:
    """Return the raw settings dict (empty when unset)."""
    value = getattr(settings, SETTING_NAME, None) or {}
    if not isinstance(value, Mapping):
        raise StageConfigurationError(
            f"{SETTING_NAME} must be a dict, not {type(value).__name__}."
        )
    return value


def setting_errors() -> list[str]:
    """Return a message for each problem in the setting (used by system checks)."""
    try:
        value = get_setting()
    except StageConfigurationError as error:
        return [str(error)]
    errors = [
        f"{SETTING_NAME} has an unknown key {key!r}; known keys: "
        f"{', '.join(sorted(KNOWN_KEYS))}."
        for key in value
        if key not in KNOWN_KEYS
    ]
    try:
        stage_overrides()
    except StageConfigurationError as error:
        errors.append(str(error))
    return errors


def stage_overrides() -> dict[str, Stage]:
    """Return ``STAGES`` with every value turned into a ``Stage``."""
    raw = get_setting().get("STAGES", {}) or {}
    if not isinstance(raw, Mapping):
        raise StageConfigurationError(f"{SETTING_NAME}['STAGES'] must be a dict.")
    overrides = {}
    for key, value in raw.items():
        try:
            overrides[str(key)] = Stage.from_label(str(value))
        except ValueError:
            raise StageConfigurationError(
                f"{SETTING_NAME}['STAGES'][{key!r}] is {value!r}; use "
                f"'pre_deploy' or 'post_deploy'."
            ) from None
    return overrides
