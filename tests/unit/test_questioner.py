"""The questioners: defaults are the zero-downtime choices; empty answers take them."""

from __future__ import annotations

import io
from collections.abc import Callable
from io import StringIO

import pytest
from django.core.management.base import OutputWrapper
from django.db.migrations import questioner as django_questioner
from django.utils import timezone

from green_makemigrations.questioner import (
    MAX_RETRIES,
    GreenInteractiveQuestioner,
    GreenNonInteractiveQuestioner,
    GreenQuestioner,
    shadowed_input,
)

REASON = "it has no default, so the column is made nullable until the drop"


# -- defaults -----------------------------------------------------------------


def test_questioner_defaults() -> None:
    questioner = GreenQuestioner()
    assert questioner.ask_nullable_fallback("shop", "product", "sku", REASON) is True
    assert questioner.ask_pending_deployed("shop", "0003_remove_price") is False
    questioner.inform("nothing happens")  # no output stream: silently ignored


def test_questioner_answers_injected_through_defaults() -> None:
    questioner = GreenQuestioner(
        defaults={"ask_nullable_fallback": False, "ask_pending_deployed": True}
    )
    assert questioner.ask_nullable_fallback("shop", "product", "sku", REASON) is False
    assert questioner.ask_pending_deployed("shop", "0003_remove_price") is True


# -- non-interactive ------------------------------------------------------------


def test_non_interactive_logs_the_fallback() -> None:
    logged: list[str] = []
    questioner = GreenNonInteractiveQuestioner(verbosity=1, log=logged.append)
    assert questioner.ask_nullable_fallback("shop", "product", "sku", REASON) is True
    assert logged == [f"shop.product.sku: {REASON}."]
    assert questioner.ask_pending_deployed("shop", "0003_remove_price") is False
    questioner.inform("placed beside")
    assert logged[-1] == "placed beside"


def test_non_interactive_refused_fallback_is_not_logged() -> None:
    logged: list[str] = []
    questioner = GreenNonInteractiveQuestioner(
        defaults={"ask_nullable_fallback": False}, verbosity=1, log=logged.append
    )
    assert questioner.ask_nullable_fallback("shop", "product", "sku", REASON) is False
    assert logged == []


def test_non_interactive_silent_at_verbosity_zero() -> None:
    logged: list[str] = []
    questioner = GreenNonInteractiveQuestioner(verbosity=0, log=logged.append)
    assert questioner.ask_nullable_fallback("shop", "product", "sku", REASON) is True
    questioner.inform("hidden")
    assert logged == []


def test_non_interactive_without_log() -> None:
    questioner = GreenNonInteractiveQuestioner(verbosity=1, log=None)
    assert questioner.ask_nullable_fallback("shop", "product", "sku", REASON) is True


# -- interactive ----------------------------------------------------------------


def fake_input(monkeypatch: pytest.MonkeyPatch, answers: list[str]) -> list[str]:
    """Answer input() calls from answers, in order; return the list (emptied as used)."""

    def answer(*_prompt: str) -> str:
        if not answers:
            raise AssertionError("input() called more often than expected")
        return answers.pop(0)

    monkeypatch.setattr("builtins.input", answer)
    return answers


def interactive(**kwargs: object) -> tuple[GreenInteractiveQuestioner, StringIO]:
    output = StringIO()
    questioner = GreenInteractiveQuestioner(prompt_output=OutputWrapper(output), **kwargs)
    return questioner, output


def test_interactive_nullable_fallback_empty_answer_takes_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = fake_input(monkeypatch, [""])
    questioner, output = interactive()
    assert questioner.ask_nullable_fallback("shop", "product", "sku", REASON) is True
    assert answers == []
    text = output.getvalue()
    assert "Removing 'sku' from shop.product" in text
    assert REASON in text
    assert " 1) Make it nullable until the post-deploy drop (zero-downtime)" in text
    assert "Select an option [1]: " in text


def test_interactive_nullable_fallback_quit(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_input(monkeypatch, ["2"])
    questioner, _output = interactive()
    with pytest.raises(SystemExit) as exit_info:
        questioner.ask_nullable_fallback("shop", "product", "sku", REASON)
    assert exit_info.value.code == 3


def test_interactive_invalid_choice_asks_again(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = fake_input(monkeypatch, ["7", "x", "1"])
    questioner, output = interactive()
    assert questioner.ask_nullable_fallback("shop", "product", "sku", REASON) is True
    assert answers == []
    assert output.getvalue().count("Please select a valid option: ") == 2


def test_interactive_pending_deployed(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_input(monkeypatch, ["", "y", "n"])
    questioner, output = interactive()
    assert questioner.ask_pending_deployed("shop", "0003_remove_price") is False
    assert questioner.ask_pending_deployed("shop", "0003_remove_price") is True
    assert questioner.ask_pending_deployed("shop", "0003_remove_price") is False
    assert "0003_remove_price" in output.getvalue()


def test_interactive_dry_run_asks_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_input(monkeypatch, [])  # any input() call fails the test
    questioner, _output = interactive(dry_run=True)
    assert questioner.ask_nullable_fallback("shop", "product", "sku", REASON) is True
    assert questioner.ask_pending_deployed("shop", "0003_remove_price") is False


def test_interactive_inform_writes_to_prompt_output() -> None:
    questioner, output = interactive()
    questioner.inform("shop.0005_post_deploy_merge joins 0004 with 0003")
    assert "shop.0005_post_deploy_merge joins 0004 with 0003" in output.getvalue()


@pytest.mark.parametrize(
    ("ask", "last_option"),
    [
        (lambda q: q.ask_not_null_addition("sku", "product"), 2),
        (lambda q: q.ask_not_null_alteration("sku", "product"), 3),
    ],
    ids=["not-null-addition", "not-null-alteration"],
)
def test_djangos_choice_questions_quit_on_empty_answer(
    monkeypatch: pytest.MonkeyPatch,
    ask: Callable[[GreenInteractiveQuestioner], object],
    last_option: int,
) -> None:
    fake_input(monkeypatch, [""])
    questioner, output = interactive()
    with pytest.raises(SystemExit) as exit_info:
        ask(questioner)
    assert exit_info.value.code == 3
    # Django gives no default: the one offered is the last option, "Quit".
    text = output.getvalue()
    assert f" {last_option}) Quit" in text
    assert f" {last_option + 1}) " not in text
    assert f"Select an option [{last_option}]: " in text


def test_djangos_choice_question_still_takes_an_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = fake_input(monkeypatch, ["1", "42"])
    questioner, _output = interactive()
    assert questioner.ask_not_null_addition("sku", "product") == 42
    assert answers == []


# -- bounded prompts: the end of input and endless invalid answers --------------

ATTEMPTS = MAX_RETRIES + 1
END = "No input (end of file): using the default"
TOO_MANY = f"No valid answer after {ATTEMPTS} attempts: using the default"


def scripted_stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    """Make standard input hold text, then end, as a pipe would."""
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


BOOLEAN_QUESTIONS: dict[str, Callable[[GreenInteractiveQuestioner], object]] = {
    "pending-deployed": lambda q: q.ask_pending_deployed("shop", "0003_remove_price"),
    "django-rename": lambda q: q.ask_rename("product", "sku", "code", object()),
    "django-merge": lambda q: q.ask_merge("shop"),
}
# Standard input -> (answer, what the questioner says about it), for questions
# whose default is no.
BOOLEAN_SCRIPTS = {
    "closed": ("", False, f"{END}, no."),
    "empty line": ("\n", False, None),
    "invalid, then end": ("maybe\n", False, f"{END}, no."),
    "invalid, then yes": ("maybe\nyes\n", True, None),
    "only invalid": ("maybe\n" * ATTEMPTS + "y\n", False, f"{TOO_MANY}, no."),
}


@pytest.mark.parametrize("script", BOOLEAN_SCRIPTS.values(), ids=BOOLEAN_SCRIPTS)
@pytest.mark.parametrize("ask", BOOLEAN_QUESTIONS.values(), ids=BOOLEAN_QUESTIONS)
def test_boolean_questions_on_scripted_stdin(
    monkeypatch: pytest.MonkeyPatch,
    ask: Callable[[GreenInteractiveQuestioner], object],
    script: tuple[str, bool, str | None],
) -> None:
    text, answer, notice = script
    scripted_stdin(monkeypatch, text)
    questioner, output = interactive()
    assert ask(questioner) is answer
    if notice is None:
        assert "using the default" not in output.getvalue()
    else:
        assert notice in output.getvalue()
    # Django's prompt loop reads input() through the module again afterwards.
    assert "input" not in vars(django_questioner)


def test_boolean_question_without_default_quits_at_end_of_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scripted_stdin(monkeypatch, "")
    questioner, output = interactive()
    with pytest.raises(SystemExit) as exit_info:
        questioner._boolean_input("Really?")
    assert exit_info.value.code == 1
    assert f"{END}, none: quitting." in output.getvalue()


@pytest.mark.parametrize(
    ("text", "notice"),
    [("", END), ("1/0\n" * ATTEMPTS, TOO_MANY)],
    ids=["closed", "only-invalid-code"],
)
def test_one_off_default_takes_its_default(
    monkeypatch: pytest.MonkeyPatch, text: str, notice: str
) -> None:
    scripted_stdin(monkeypatch, text)
    questioner, output = interactive()
    # auto_now_add's question offers timezone.now, evaluated as Django does.
    assert questioner._ask_default(default="timezone.now") is timezone.now
    assert f"{notice}, 'timezone.now'." in output.getvalue()


@pytest.mark.parametrize(
    "text",
    ["", "1/0\n" * ATTEMPTS, "\n" * ATTEMPTS],
    ids=["closed", "only-invalid", "only-empty-lines"],
)
def test_one_off_default_without_default_quits(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    scripted_stdin(monkeypatch, text)
    questioner, output = interactive()
    with pytest.raises(SystemExit) as exit_info:
        questioner._ask_default()
    assert exit_info.value.code == 1
    assert "none: quitting." in output.getvalue()


def test_one_off_default_still_takes_an_answer_after_invalid_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scripted_stdin(monkeypatch, "1/0\n\n'ok'\n")
    questioner, output = interactive()
    assert questioner._ask_default() == "ok"
    assert "using the default" not in output.getvalue()


def test_endless_invalid_choices_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def endless(*_prompt: str) -> str:
        calls.append("9")
        return "9"

    monkeypatch.setattr("builtins.input", endless)
    questioner, output = interactive()
    assert questioner.ask_nullable_fallback("shop", "product", "sku", REASON) is True
    assert len(calls) == ATTEMPTS
    assert f"{TOO_MANY}, option 1." in output.getvalue()


def test_shadowed_input_restores_what_was_there(monkeypatch: pytest.MonkeyPatch) -> None:
    def earlier(*_prompt: str) -> str:
        return "y"

    monkeypatch.setattr(django_questioner, "input", earlier, raising=False)
    with shadowed_input(lambda *_prompt: "n"):
        assert django_questioner.input() == "n"  # type: ignore[attr-defined]
    assert django_questioner.input is earlier  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError), shadowed_input(lambda *_prompt: "n"):
        raise RuntimeError
    assert django_questioner.input is earlier  # type: ignore[attr-defined]
