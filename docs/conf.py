"""Sphinx configuration of the django-green-makemigrations documentation.

Build it with ``make -C docs html`` or
``sphinx-build -W --keep-going -b html docs docs/_build/html``
(``pip install -e '.[docs]'`` first).
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django  # noqa: E402
from django.conf import settings  # noqa: E402

import green_makemigrations  # noqa: E402

# autodoc imports the operations, which need Django's app registry.
if not settings.configured:
    settings.configure(INSTALLED_APPS=["green_makemigrations"])
    django.setup()

project = "django-green-makemigrations"
author = "django-green-makemigrations contributors"
copyright = f"%Y, {author}"  # Sphinx replaces %Y with the build year
version = release = green_makemigrations.__version__

extensions = ["sphinx.ext.autodoc"]
exclude_patterns = ["_build"]
# Every cross-reference must resolve (the Makefile passes -n too).
nitpicky = True

autodoc_member_order = "bysource"
# Signatures without annotations: Django's classes are not documented here, and
# intersphinx would need the network.
autodoc_typehints = "none"
autodoc_default_options = {"members": False}

html_theme = "furo"
html_title = f"django-green-makemigrations {release}"
html_static_path: list[str] = []


class Shown:
    """A default as a migration file spells it: a class (``NOT_PROVIDED``) by its name."""

    def __init__(self, value: object) -> None:
        self.value = value

    def __repr__(self) -> str:
        return self.value.__name__ if isinstance(self.value, type) else repr(self.value)


def init_signature(
    app: Sphinx,
    what: str,
    name: str,
    obj: object,
    options: object,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str, str | None] | None:
    """Show an operation's ``__init__`` arguments, not ``Operation.__new__``'s ``*args``.

    Django's Operation records its arguments in ``__new__(cls, *args,
    **kwargs)``, which autodoc takes for the class's signature.
    """
    if what != "class" or not isinstance(obj, type) or signature != "(*args, **kwargs)":
        return None
    init = inspect.signature(obj.__init__)  # type: ignore[misc]
    empty = inspect.Parameter.empty
    parameters = [
        parameter.replace(
            annotation=empty,
            default=empty if parameter.default is empty else Shown(parameter.default),
        )
        for parameter in list(init.parameters.values())[1:]
    ]
    return str(init.replace(parameters=parameters, return_annotation=init.empty)), None


def setup(app: Sphinx) -> None:
    """Add the ``setting`` and ``check`` targets (``.. setting:: STAGES``, ``:check:``)."""
    app.connect("autodoc-process-signature", init_signature)
    app.add_crossref_type("setting", "setting", indextemplate="pair: %s; setting")
    app.add_crossref_type("check", "check", indextemplate="pair: %s; system check")
