"""The reference pages document every command option, setting and system check, and no other.

Cheap and database-free: the commands' parsers are built in-process and
compared with Django's stock parser of the same name; the settings keys come
from conf.KNOWN_KEYS, the check ids from the package's source. A command, an
option, a key or a check added without its documentation fails here, and so
does documentation left behind by one removed.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from django.core.management import load_command_class
from django.core.management.base import BaseCommand

import green_makemigrations
from green_makemigrations import conf

PACKAGE = Path(green_makemigrations.__file__).resolve().parent
REFERENCE = PACKAGE.parent / "docs" / "reference"
COMMANDS_DIR = PACKAGE / "management" / "commands"
APP = "green_makemigrations"

# commands.rst: each command's section starts with ".. program:: manage.py <name>";
# each option of it is an ".. option:: --name ARG" (or a positional's name).
PROGRAM = re.compile(r"^\.\. program:: manage\.py (\S+)[ \t]*$", re.MULTILINE)
OPTION = re.compile(r"^\.\. option:: (.+)$", re.MULTILINE)
SETTING = re.compile(r"^\.\. setting:: (\S+)[ \t]*$", re.MULTILINE)
CHECK = re.compile(r"^\.\. check:: (\S+)[ \t]*$", re.MULTILINE)
# Where the package makes a check message: Error(..., id=f"{APP_NAME}.E001"), and
# the stage rules' RuleMessage("E004", ...), which checks.py reports under the app's name.
CHECK_ID = re.compile(r"""\bid=f?["'](?:\{APP_NAME\}|green_makemigrations)\.([EW]\d{3})["']""")
RULE_ID = re.compile(r"""\bRuleMessage\(\s*["']([EW]\d{3})["']""")


def package_commands() -> list[str]:
    """Return the names of the management commands the package ships."""
    return sorted(path.stem for path in COMMANDS_DIR.glob("*.py") if not path.stem.startswith("_"))


def arguments(command: BaseCommand, name: str) -> set[str]:
    """Return the option strings of command's parser, and its positionals' names."""
    parser = command.create_parser("manage.py", name)
    found: set[str] = set()
    for action in parser._actions:
        found.update(action.option_strings or [action.dest])
    return found


def stock_arguments(name: str) -> set[str]:
    """Return the arguments of Django's command of that name (any command's, if none)."""
    try:
        module = importlib.import_module(f"django.core.management.commands.{name}")
    except ModuleNotFoundError:
        return arguments(BaseCommand(), name)
    return arguments(module.Command(), name)


def documented_options() -> dict[str, set[str]]:
    """Return, per command section of commands.rst, the options it documents."""
    text = (REFERENCE / "commands.rst").read_text(encoding="utf-8")
    programs = list(PROGRAM.finditer(text))
    sections: dict[str, set[str]] = {}
    for match, following in zip(programs, [*programs[1:], None], strict=True):
        body = text[match.end() : following.start() if following else len(text)]
        assert match[1] not in sections, f"commands.rst documents {match[1]} twice"
        sections[match[1]] = {
            form.split()[0] for option in OPTION.finditer(body) for form in option[1].split(", ")
        }
    return sections


def package_check_ids() -> set[str]:
    """Return every system check id the package's source makes."""
    ids: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        ids.update(f"{APP}.{found}" for found in CHECK_ID.findall(source) + RULE_ID.findall(source))
    return ids


def test_every_command_has_a_section() -> None:
    commands = package_commands()
    assert {"makemigrations", "migrate", "showstages", "verifystages"} <= set(commands)
    # What the comparison with Django's parsers finds: the options the package adds only.
    migrate = arguments(load_command_class(APP, "migrate"), "migrate") - stock_arguments("migrate")
    assert {"--stage", "--lock-timeout"} <= migrate and "--plan" not in migrate
    showstages = arguments(load_command_class(APP, "showstages"), "showstages")
    assert {"app_label", "--format"} <= showstages - stock_arguments("showstages")
    assert set(documented_options()) == set(commands), (
        "docs/reference/commands.rst needs one '.. program:: manage.py <name>' section per "
        "command in green_makemigrations/management/commands/, and none for another"
    )


@pytest.mark.parametrize("name", package_commands())
def test_command_options_documented(name: str) -> None:
    ours = arguments(load_command_class(APP, name), name)
    added = ours - stock_arguments(name)
    documented = documented_options().get(name, set())
    missing = sorted(added - documented)
    assert not missing, f"docs/reference/commands.rst, {name}: no '.. option::' for {missing}"
    unknown = sorted(documented - ours)
    assert not unknown, f"docs/reference/commands.rst, {name}: documents {unknown}, not options"


def test_settings_documented() -> None:
    text = (REFERENCE / "settings.rst").read_text(encoding="utf-8")
    documented = SETTING.findall(text)
    assert len(documented) == len(set(documented)), "a setting is documented twice"
    assert set(documented) == set(conf.KNOWN_KEYS), (
        f"docs/reference/settings.rst: missing {sorted(set(conf.KNOWN_KEYS) - set(documented))}, "
        f"not settings {sorted(set(documented) - set(conf.KNOWN_KEYS))}"
    )
    # Each key's section says its default.
    blocks = SETTING.split(text)[2::2]
    for key, block in zip(documented, blocks, strict=True):
        assert "Default:" in block, f"docs/reference/settings.rst: {key} has no 'Default:'"


def test_checks_documented() -> None:
    ids = package_check_ids()
    assert {f"{APP}.E001", f"{APP}.E004", f"{APP}.W001", f"{APP}.W003"} <= ids, ids
    documented = CHECK.findall((REFERENCE / "checks.rst").read_text(encoding="utf-8"))
    assert len(documented) == len(set(documented)), "a check is documented twice"
    assert set(documented) == ids, (
        f"docs/reference/checks.rst: missing {sorted(ids - set(documented))}, "
        f"not checks {sorted(set(documented) - ids)}"
    )
