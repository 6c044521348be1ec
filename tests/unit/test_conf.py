"""The GREEN_MAKEMIGRATIONS setting, read lazily (override_settings works)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from green_makemigrations import conf
from green_makemigrations.conf import setting_errors, stage_overrides
from green_makemigrations.constants import STAGE_SPELLINGS, Stage
from green_makemigrations.exceptions import StageConfigurationError
from green_makemigrations.locks import LockPolicy


def test_unset_setting() -> None:
    with override_settings():
        assert stage_overrides() == {}
        assert setting_errors() == []


@override_settings(GREEN_MAKEMIGRATIONS={})
def test_empty_setting() -> None:
    assert stage_overrides() == {}
    assert setting_errors() == []


@override_settings(
    GREEN_MAKEMIGRATIONS={
        "STAGES": {
            "shop": "post_deploy",
            "shop.0003_remove_price": "pre-deploy",
            "legacy": " Post-Deploy ",
            "billing": Stage.PRE_DEPLOY,
        }
    }
)
def test_stage_overrides_accepts_every_spelling() -> None:
    overrides = stage_overrides()
    assert overrides == {
        "shop": Stage.POST_DEPLOY,
        "shop.0003_remove_price": Stage.PRE_DEPLOY,
        "legacy": Stage.POST_DEPLOY,
        "billing": Stage.PRE_DEPLOY,
    }
    assert all(type(stage) is Stage for stage in overrides.values())
    assert setting_errors() == []


def test_setting_is_read_lazily() -> None:
    with override_settings(GREEN_MAKEMIGRATIONS={"STAGES": {"shop": "pre_deploy"}}):
        assert stage_overrides() == {"shop": Stage.PRE_DEPLOY}
    with override_settings(GREEN_MAKEMIGRATIONS={"STAGES": {"shop": "post_deploy"}}):
        assert stage_overrides() == {"shop": Stage.POST_DEPLOY}


@override_settings(GREEN_MAKEMIGRATIONS={"STAGES": {"shop": "later"}})
def test_invalid_stage_value() -> None:
    with pytest.raises(StageConfigurationError) as error:
        stage_overrides()
    message = str(error.value)
    assert "GREEN_MAKEMIGRATIONS['STAGES']['shop']" in message
    assert "'later'" in message
    assert STAGE_SPELLINGS in message
    assert setting_errors() == [message]


@override_settings(GREEN_MAKEMIGRATIONS=["shop"])
def test_setting_not_a_dict() -> None:
    with pytest.raises(StageConfigurationError, match="must be a dict, not list"):
        stage_overrides()
    assert setting_errors() == ["GREEN_MAKEMIGRATIONS must be a dict, not list."]


@override_settings(GREEN_MAKEMIGRATIONS={"STAGES": ["shop"]})
def test_stages_not_a_dict() -> None:
    with pytest.raises(StageConfigurationError, match=r"\['STAGES'\] must be a dict"):
        stage_overrides()
    assert setting_errors() == ["GREEN_MAKEMIGRATIONS['STAGES'] must be a dict."]


@override_settings(GREEN_MAKEMIGRATIONS={"STAGE": {"shop": "post_deploy"}})
def test_unknown_key() -> None:
    assert stage_overrides() == {}
    (error,) = setting_errors()
    assert "unknown key 'STAGE'" in error
    assert (
        "known keys: BACKFILL_FLUSH_AFTER, BACKFILL_NICE_RATIO, LOCK_RETRIES, LOCK_TIMEOUT, "
        "RUN_LOCK_TIMEOUT, STAGES, VERIFY, VERIFY_ACCEPT, WAL_COMPRESSION." in error
    )


@override_settings(GREEN_MAKEMIGRATIONS={"OTHER": 1, "STAGES": {"shop": "soon"}})
def test_every_error_is_reported() -> None:
    errors = setting_errors()
    assert len(errors) == 2
    assert "unknown key 'OTHER'" in errors[0]
    assert "'soon'" in errors[1]


def test_lock_policy_defaults_settings_and_arguments() -> None:
    with override_settings(GREEN_MAKEMIGRATIONS={}):
        assert conf.lock_policy() == LockPolicy()
    with override_settings(GREEN_MAKEMIGRATIONS={"LOCK_TIMEOUT": 2, "LOCK_RETRIES": 3}):
        assert conf.lock_policy() == LockPolicy(timeout=2.0, retries=3)
        # The command's options win over the settings.
        assert conf.lock_policy(0.25, 0) == LockPolicy(timeout=0.25, retries=0)


def test_run_lock_timeout_defaults_settings_and_arguments() -> None:
    with override_settings(GREEN_MAKEMIGRATIONS={}):
        assert conf.run_lock_timeout() == 600.0
    with override_settings(GREEN_MAKEMIGRATIONS={"RUN_LOCK_TIMEOUT": 0}):
        assert conf.run_lock_timeout() == 0.0
        assert conf.run_lock_timeout(2.5) == 2.5  # the command's option wins


@pytest.mark.parametrize(
    "setting",
    [
        {"LOCK_TIMEOUT": 0},
        {"LOCK_TIMEOUT": "1s"},
        {"LOCK_RETRIES": -1},
        {"LOCK_RETRIES": 1.5},
        {"RUN_LOCK_TIMEOUT": -1},
        {"RUN_LOCK_TIMEOUT": "10m"},
        {"RUN_LOCK_TIMEOUT": True},
    ],
)
def test_bad_lock_settings_are_reported(setting: dict[str, object]) -> None:
    with override_settings(GREEN_MAKEMIGRATIONS=setting):
        errors = conf.setting_errors()
    assert len(errors) == 1
    assert "must be" in errors[0]


def test_verify_settings_defaults_and_values() -> None:
    with override_settings(GREEN_MAKEMIGRATIONS={}):
        assert conf.verify_enabled() is True
        assert conf.verify_accept() == []
    with override_settings(
        GREEN_MAKEMIGRATIONS={"VERIFY": False, "VERIFY_ACCEPT": ["shop.0004_sql"]}
    ):
        assert conf.verify_enabled() is False
        assert conf.verify_accept() == ["shop.0004_sql"]
        assert setting_errors() == []


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"VERIFY": "no"}, "['VERIFY'] must be True or False, not 'no'"),
        ({"VERIFY_ACCEPT": "shop.0004_sql"}, "must be a list of 'app_label.migration_name'"),
        ({"VERIFY_ACCEPT": [4]}, "must be a list of 'app_label.migration_name'"),
    ],
)
def test_bad_verify_settings_are_reported(setting: dict[str, object], message: str) -> None:
    with override_settings(GREEN_MAKEMIGRATIONS=setting):
        (error,) = setting_errors()
        assert message in error
