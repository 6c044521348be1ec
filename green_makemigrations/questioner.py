"""Every question green_makemigrations asks, in one place.

Each question has a default, taken under ``--noinput`` and on an empty
answer, and the default is the zero-downtime choice. Answers can be injected
through ``defaults`` (keyed by method name) in tests.

The interactive questioner also never waits for ever on a scripted or closed
standard input: the end of input is read as the question's default, and so
are too many invalid answers in a row (it says so). This applies to Django's
own questions too (it asks them through the same methods).
"""

from __future__ import annotations

import builtins
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from django.db.migrations import questioner as django_questioner
from django.db.migrations.questioner import (
    InteractiveMigrationQuestioner,
    MigrationQuestioner,
    NonInteractiveMigrationQuestioner,
)

from .patching import swap_attribute

# How many answers a question reads before it gives up and takes its default:
# the first one and this many retries after invalid answers.
MAX_RETRIES = 3


class NoAnswer(Exception):
    """The input ended, or gave only invalid answers: the question takes its default."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_answer(attempt: int) -> str:
    """Return one line of input for the attempt-th answer to a question (from 1).

    Raise NoAnswer at the end of input, or when ``attempt`` exceeds the
    retries allowed after invalid answers. ``builtins.input`` is looked up at
    each call, so tests can replace it.
    """
    if attempt > MAX_RETRIES + 1:
        raise NoAnswer(f"no valid answer after {MAX_RETRIES + 1} attempts")
    try:
        return builtins.input()
    except EOFError:
        raise NoAnswer("no input (end of file)") from None


@contextmanager
def bounded_input() -> Iterator[None]:
    """Make Django's questioner read its answers through read_answer() in the block.

    Django's own prompt loops (``_boolean_input``, ``_ask_default``) call
    ``input()`` until they get a valid answer: here each call of a question
    counts, and NoAnswer ends the loop.
    """
    attempts = 0

    def bounded(prompt: object = "") -> str:
        nonlocal attempts
        attempts += 1
        return read_answer(attempts)

    with shadowed_input(bounded):
        yield


def shadowed_input(function: Callable[..., str]) -> AbstractContextManager[None]:
    """Make Django's questioner module call function for ``input()`` in the block.

    The module has no ``input`` of its own: a module global shadows the
    builtin, and goes away afterwards.
    """
    return swap_attribute(django_questioner, "input", function, missing_ok=True)


class GreenQuestionerMixin:
    """The questions of the phased autodetector, answered with their defaults.

    ``applied_migrations`` holds what the database makemigrations consults
    has applied, or None when it cannot tell (no database reachable, no
    django_migrations table); what it tells is not asked.
    """

    defaults: dict[str, Any]
    _applied: frozenset[tuple[str, str]] | None = None
    _applied_source: Callable[[], frozenset[tuple[str, str]] | None] | None = None

    @property
    def applied_migrations(self) -> frozenset[tuple[str, str]] | None:
        """Return what the database has applied (read when first asked), or None."""
        if self._applied_source is not None:
            self._applied, self._applied_source = self._applied_source(), None
        return self._applied

    @applied_migrations.setter
    def applied_migrations(self, applied: frozenset[tuple[str, str]] | None) -> None:
        self._applied, self._applied_source = applied, None

    def read_applied_from(self, source: Callable[[], frozenset[tuple[str, str]] | None]) -> None:
        """Read applied_migrations from source when it is first needed (most runs never)."""
        self._applied_source = source

    def __init__(self, *args: Any, updating: bool = False, **kwargs: Any) -> None:
        """Take Django's arguments, and ``updating`` for ``makemigrations --update``.

        With --update the changes go into the app's last migration (or are
        refused): where new migrations would be placed cannot matter, so
        ask_pending_deployed() is not asked.
        """
        super().__init__(*args, **kwargs)
        self.updating = updating

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
        if self.dry_run or self.updating:
            return super().ask_pending_deployed(app_label, migration_name)
        return self._boolean_input(
            f"The latest migration of '{app_label}', {migration_name}, is "
            "post-deploy. Has it already run in every environment? If not, the new "
            "pre-deploy migration is placed beside it so one release can hold "
            "both. [y/N]",
            default=False,
        )

    def inform(self, message: str) -> None:
        """Write message to the prompt output."""
        self.prompt_output.write(message)

    def _take_default(self, reason: str, default: str) -> None:
        """Say that a question takes its default, and why."""
        self.prompt_output.write(
            f"\n{reason[0].upper()}{reason[1:]}: using the default, {default}."
        )

    def _choice_input(self, question: str, choices: list[str], default: int | None = None) -> int:
        """Ask a numbered question; return the number of the option chosen.

        An empty answer, the end of input and too many invalid answers pick
        default. Django's own questions give no default: their last option is always
        "Quit", which writes nothing, so that is what those pick.
        """
        if default is None:
            default = len(choices)
        self.prompt_output.write(question)
        for number, choice in enumerate(choices, start=1):
            self.prompt_output.write(f" {number}) {choice}")
        self.prompt_output.write(f"Select an option [{default}]: ", ending="")
        attempt = 0
        while True:
            attempt += 1
            try:
                answer = read_answer(attempt).strip()
            except KeyboardInterrupt:
                self.prompt_output.write("\nCancelled.")
                sys.exit(1)
            except NoAnswer as no_answer:
                self._take_default(no_answer.reason, f"option {default}")
                return default
            if not answer:
                return default
            if answer.isdigit() and 0 < int(answer) <= len(choices):
                return int(answer)
            self.prompt_output.write("Please select a valid option: ", ending="")

    def _boolean_input(self, question: str, default: bool | None = None) -> bool:
        """Ask a yes/no question with Django's prompt loop, bounded.

        The end of input and too many invalid answers take default; without
        one, quit as an interrupted question does.
        """
        try:
            with bounded_input():
                return bool(super()._boolean_input(question, default))  # type: ignore[misc]
        except NoAnswer as no_answer:
            if default is None:
                self._take_default(no_answer.reason, "none: quitting")
                self.prompt_output.write("Cancelled.")
                sys.exit(1)
            self._take_default(no_answer.reason, "yes" if default else "no")
            return default

    def _ask_default(self, default: str = "") -> Any:
        """Ask for a one-off default with Django's prompt loop, bounded.

        The end of input and too many invalid answers take default (Python
        code, evaluated as Django does); without one, quit as "exit" does.
        """
        try:
            with bounded_input():
                return super()._ask_default(default)  # type: ignore[misc]
        except NoAnswer as no_answer:
            if not default:
                self._take_default(no_answer.reason, "none: quitting")
                sys.exit(1)
            self._take_default(no_answer.reason, f"'{default}'")
            # Django's own empty answer: evaluate default as it would.
            with shadowed_input(lambda prompt="": ""):
                return super()._ask_default(default)  # type: ignore[misc]
