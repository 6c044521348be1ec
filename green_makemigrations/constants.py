"""Constants that appear in users' migration files: their import path is permanent."""

import enum


class Stage(enum.StrEnum):
    """The deploy stage a migration belongs to.

    Generated migration files say ``stage = Stage.POST_DEPLOY``: keep this
    class importable as ``green_makemigrations.constants.Stage`` forever.
    """

    PRE_DEPLOY = "pre_deploy"
    POST_DEPLOY = "post_deploy"

    @property
    def label(self) -> str:
        """Return the spelling used on the command line ("pre-deploy")."""
        return self.value.replace("_", "-")

    @property
    def opposite(self) -> "Stage":
        """Return the other stage (the role a stage plays when rolling back)."""
        return Stage.POST_DEPLOY if self is Stage.PRE_DEPLOY else Stage.PRE_DEPLOY

    @classmethod
    def from_label(cls, text: str) -> "Stage":
        """Return the stage for "pre-deploy", "pre_deploy" and similar spellings.

        The one rule for every place a stage is written (the command line,
        settings, migration files): a Stage member, or its value with ``-``
        or ``_``, in any case, surrounding spaces ignored. Raise ValueError
        for anything else.
        """
        if not isinstance(text, str):
            raise ValueError(f"{text!r} is not a stage")
        return cls(text.strip().lower().replace("-", "_"))


STAGE_CHOICES = [stage.label for stage in Stage]
# The spellings Stage.from_label() accepts, for error messages.
STAGE_SPELLINGS = (
    "'pre-deploy' or 'post-deploy' (or 'pre_deploy', 'post_deploy', "
    "Stage.PRE_DEPLOY, Stage.POST_DEPLOY from green_makemigrations.constants)"
)

# Written above the stage attribute of every generated migration.
STAGE_COMMENTS = {
    Stage.PRE_DEPLOY: (
        "Deploy stage: pre-deploy. Safe while the previous release is serving;\n"
        "runs with `migrate --stage pre-deploy`, before the new code rolls out."
    ),
    Stage.POST_DEPLOY: (
        "Deploy stage: post-deploy. Breaks the previous release: runs only with\n"
        "`migrate --stage post-deploy`, once no server runs the previous release.\n"
        "`migrate --stage pre-deploy` never applies it."
    ),
}

# Written instead above the stage of a migration without operations (a merge,
# ``makemigrations --empty``): it breaks nothing, whatever its stage.
EMPTY_STAGE_COMMENTS = {
    Stage.PRE_DEPLOY: (
        "Deploy stage: pre-deploy. No operations: it changes nothing and runs\n"
        "with `migrate --stage pre-deploy`. Operations added here must be safe\n"
        "while the previous release is serving."
    ),
    Stage.POST_DEPLOY: (
        "Deploy stage: post-deploy. No operations: it changes nothing, but it\n"
        "follows post-deploy migrations, so it runs with `migrate --stage\n"
        "post-deploy`."
    ),
}
