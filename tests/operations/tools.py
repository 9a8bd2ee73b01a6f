"""The external tools the operations checks run, and where the checked files live.

A tool is looked up on PATH and beside the test interpreter (the venv's bin).
Outside CI a missing tool skips its test with the reason and the way to install
it; under CI (`.ci/run` installs them) it fails the test, like PostgreSQL does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from tests.conftest import IN_CI

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def require(name: str, *, install: str, search: Sequence[Path] = (), in_ci: bool = True) -> str:
    """Path of the tool `name`; skip (or, under CI, fail) when it is not installed.

    `in_ci=False` is for a tool CI cannot install here either; it skips everywhere.
    """
    path = os.pathsep.join([os.environ.get("PATH", ""), str(VENV_BIN), *map(str, search)])
    found = shutil.which(name, path=path)
    if found:
        return found
    message = f"{name} is not installed: {install}"
    if IN_CI and in_ci:
        pytest.fail(f"{message} (mandatory under CI)")
    pytest.skip(message)


def run(
    args: Sequence[str],
    *,
    cwd: Path = REPO,
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run a tool; the output is kept for the assertion message."""
    return subprocess.run(
        list(args),
        cwd=cwd,
        env=None if env is None else {**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def output(result: subprocess.CompletedProcess[str]) -> str:
    return f"$ {' '.join(result.args)}\n{result.stdout}{result.stderr}"
