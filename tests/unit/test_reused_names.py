"""A name a post-deploy drop frees cannot be taken in pre-deploy: refused, with the fix."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import models
from django.db.migrations.state import ModelState

from green_makemigrations.constants import Stage
from green_makemigrations.exceptions import PhasingError

from .test_autodetector import detect


def model(name: str, **options: Any) -> ModelState:
    """Return a model state with one integer field and options."""
    return ModelState(
        "testapp",
        name,
        [("id", models.AutoField(primary_key=True)), ("size", models.IntegerField(default=0))],
        options=options,
    )


def index(name: str) -> models.Index:
    return models.Index(fields=["size"], name=name)


def unique(name: str) -> models.UniqueConstraint:
    return models.UniqueConstraint(fields=["size"], name=name)


# (what the old model declares, what the new model declares, the name taken twice)
REUSED = {
    "index": ({"indexes": [index("shared_idx")]}, {"indexes": [index("shared_idx")]}, "shared_idx"),
    "constraint": (
        {"constraints": [unique("shared_uniq")]},
        {"constraints": [unique("shared_uniq")]},
        "shared_uniq",
    ),
    "index name as constraint name": (
        {"indexes": [index("shared")]},
        {"constraints": [unique("Shared")]},
        "Shared",
    ),
    "table": ({"db_table": "shared_table"}, {"db_table": "shared_table"}, "shared_table"),
}


@pytest.mark.parametrize("case", list(REUSED))
def test_a_new_model_taking_a_deleted_models_name_is_refused(case: str) -> None:
    old_options, new_options, name = REUSED[case]
    with pytest.raises(PhasingError) as error:
        detect([model("Old", **old_options)], [model("Fresh", **new_options)])
    message = str(error.value)
    assert name in message and "testapp.Old" in message
    assert "another name" in message


def test_an_index_moved_to_a_new_model_under_its_name_is_refused() -> None:
    before = [model("Old", indexes=[index("moved_idx")]), model("Kept")]
    after = [model("Kept", indexes=[index("moved_idx")])]
    with pytest.raises(PhasingError) as error:
        detect(before, after)
    assert "moved_idx" in str(error.value)


@pytest.mark.parametrize("case", list(REUSED))
def test_other_names_are_phased(case: str) -> None:
    """Control: the same change with a fresh name is a pre-deploy creation, a post-deploy drop."""
    old_options, new_options, name = REUSED[case]
    new_options = {
        key: (
            f"{value}_new"
            if isinstance(value, str)
            else [type(item)(fields=["size"], name=f"{item.name}_new") for item in value]
        )
        for key, value in new_options.items()
    }
    changes = detect([model("Old", **old_options)], [model("Fresh", **new_options)])
    migrations = changes["testapp"]
    stages = [migration.stage for migration in migrations]
    assert stages[0] is Stage.PRE_DEPLOY and stages[-1] is Stage.POST_DEPLOY
    created = [type(op).__name__ for op in migrations[0].operations]
    dropped = [type(op).__name__ for m in migrations[1:] for op in m.operations]
    assert "CreateModel" in created and "DeleteModel" in dropped
