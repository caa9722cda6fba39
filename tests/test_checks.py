"""The static checks run as part of the suite, so that `pytest` alone (and
so `.ci/run`) refuses a change that the linters would refuse."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_ruff_finds_nothing() -> None:
    """The tree passes ruff's lint rules (ruff.toml)."""
    done = run("ruff", "check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_tree_is_formatted() -> None:
    """Every file is as `ruff format` writes it."""
    done = run("ruff", "format", "--check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_imports_point_down() -> None:
    """The import contracts (.importlinter) hold: db <- store <- plugins <-
    domain <- runtime <- web <- entry points; views import only the model,
    other views, config, errors and ids; the model nothing but ids and errors."""
    done = run("lint-imports", "--no-cache")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_finds_nothing() -> None:
    """The package and its Twisted plugins pass mypy's strict checks with the
    mypy-zope plugin (the [mypy] section of setup.cfg; its cache stays in
    .mypy_cache, so a second run takes seconds)."""
    done = run("mypy")
    assert done.returncode == 0, done.stdout + done.stderr
