"""Write the crash matrix's migration files with the real makemigrations.

Run ``python -m tests.faults.generate`` from the repository after changing a
scenario's models_n.py or models_n1.py (or the autodetector): for each scenario
under scenarios/, release N's models get their initial migration, release
N+1's the migrations the package generates for the change (answering yes to
each rename question), and the files are copied to the scenario's migrations
package, where the matrix (test_crash_matrix.py) applies them.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from tests.rehearsal.harness import Project

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
APP_LABEL = "faults"
# The answers to makemigrations' questions, by scenario; by default yes to
# each rename question.
ANSWERS = {
    "db_column": ["1"],  # a unique uuid4 field added: continue
    # The first run's post-deploy migration has not run: the same release.
    "rename_model_altered": ["n"],
}


def generate(scenario: Path, root: Path) -> list[str]:
    """Generate scenario's migrations in a temporary project under root; return their names."""
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(root / "db.sqlite3")}
    project = Project.create(
        root / "project", database, (scenario / "models_n.py").read_text(), APP_LABEL
    )
    project.manage("makemigrations", APP_LABEL)
    if (scenario / "models_n1_first.py").exists():
        # Release N+1 written by two makemigrations runs (a rename, then more changes).
        project.write_models((scenario / "models_n1_first.py").read_text())
        project.manage("makemigrations", APP_LABEL, answers=["y"] * 10)
    project.write_models((scenario / "models_n1.py").read_text())
    project.manage("makemigrations", APP_LABEL, answers=ANSWERS.get(scenario.name, ["y"] * 10))
    target = scenario / "migrations"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    (target / "__init__.py").write_text("")
    source = project.path / APP_LABEL / "migrations"
    for path in sorted(source.glob("[0-9]*.py")):
        shutil.copy(path, target / path.name)
    return project.migration_names()


def main() -> None:
    """Generate the migrations of the scenarios named on the command line, or of all."""
    names = sys.argv[1:] or sorted(p.name for p in SCENARIOS.iterdir() if p.is_dir())
    for name in names:
        with tempfile.TemporaryDirectory() as directory:
            print(name, generate(SCENARIOS / name, Path(directory)))


if __name__ == "__main__":
    main()
