"""Every question green_makemigrations asks, in one place.

Each question has a default, taken under ``--noinput`` and on an empty
answer, and the default is the zero-downtime choice. Answers can be injected
through ``defaults`` (keyed by method name) in tests.
"""

from __future__ import annotations

import sys
from typing import Any

from django.db.migrations.questioner import (
    InteractiveMigrationQuestioner,
    MigrationQuestioner,
    NonInteractiveMigrationQuestioner,
)


class GreenQuestionerMixin:
    """The questions of the phased autodetector, answered with their defaults.

    ``applied_migrations`` holds what the database makemigrations consults
    has applied, or None when it cannot tell (no database reachable, no
    django_migrations table); what it tells is not asked.
    """

    defaults: dict[str, Any]
    applied_migrations: frozenset[tuple[str, str]] | None = None

    def ask_nullable_fallback(
        self, app_label: str, model_name: str, field_name: str, reason: str
    ) -> bool:
        """Return whether a removed field may become nullable until its drop."""
        return bool(self.defaults.get("ask_nullable_fallback", True))

    def ask_pending_deployed(self, app_label: str, migration_name: str) -> bool:
        """Return whether a post-deploy migration has run everywhere already.

        Answering no (the default) places new pre-deploy migrations beside it,
        so a release holding both can still run its pre-deploy stage.
        """
        return bool(self.defaults.get("ask_pending_deployed", False))

    def inform(self, message: str) -> None:
        """Tell the user something they should know about the generated files."""


class GreenQuestioner(GreenQuestionerMixin, MigrationQuestioner):
    """The questioner used when none is given (e.g. by ``migrate``)."""


class GreenNonInteractiveQuestioner(GreenQuestionerMixin, NonInteractiveMigrationQuestioner):
    """Answer every question with its default, logging what was decided."""

    def ask_nullable_fallback(
        self, app_label: str, model_name: str, field_name: str, reason: str
    ) -> bool:
        """Return the default (nullable until the drop) and log it."""
        answer = super().ask_nullable_fallback(app_label, model_name, field_name, reason)
        if answer:
            self.inform(f"{app_label}.{model_name}.{field_name}: {reason}.")
        return answer

    def inform(self, message: str) -> None:
        """Log message unless verbosity is 0."""
        if self.verbosity > 0 and self.log is not None:
            self.log(message)


class GreenInteractiveQuestioner(GreenQuestionerMixin, InteractiveMigrationQuestioner):
    """Ask on the command's output; an empty answer takes the default."""

    def ask_nullable_fallback(
        self, app_label: str, model_name: str, field_name: str, reason: str
    ) -> bool:
        """Ask whether the removed field may be nullable until its drop."""
        if self.dry_run:
            return super().ask_nullable_fallback(app_label, model_name, field_name, reason)
        choice = self._choice_input(
            f"Removing '{field_name}' from {app_label}.{model_name}: the new release "
            f"inserts rows without it, and {reason}.\nPlease select a fix:",
            [
                "Make it nullable until the post-deploy drop (zero-downtime)",
                "Quit and give the field a default the database can store "
                "(a literal, or db_default=...) in models.py",
            ],
            default=1,
        )
        if choice == 2:
            sys.exit(3)
        return True

    def ask_pending_deployed(self, app_label: str, migration_name: str) -> bool:
        """Ask whether a pending-looking post-deploy migration already ran everywhere."""
        if self.dry_run:
            return super().ask_pending_deployed(app_label, migration_name)
        return bool(
            self._boolean_input(  # type: ignore[attr-defined]
                f"The latest migration of '{app_label}', {migration_name}, is "
                "post-deploy. Has it already run in every environment? If not, the new "
                "pre-deploy migration is placed beside it so one release can hold "
                "both. [y/N]",
                default=False,
            )
        )

    def inform(self, message: str) -> None:
        """Write message to the prompt output."""
        self.prompt_output.write(message)

    def _choice_input(self, question: str, choices: list[str], default: int | None = None) -> int:
        """Ask a numbered question; an empty answer picks default.

        Django's own questions give no default: their last option is always
        "Quit", which writes nothing, so that is what an empty answer picks.
        """
        if default is None:
            default = len(choices)
        self.prompt_output.write(question)
        for number, choice in enumerate(choices, start=1):
            self.prompt_output.write(f" {number}) {choice}")
        self.prompt_output.write(f"Select an option [{default}]: ", ending="")
        while True:
            try:
                answer = input().strip()
            except KeyboardInterrupt:
                self.prompt_output.write("\nCancelled.")
                sys.exit(1)
            if not answer:
                return default
            if answer.isdigit() and 0 < int(answer) <= len(choices):
                return int(answer)
            self.prompt_output.write("Please select a valid option: ", ending="")
