"""ruff and mypy, as configured in pyproject.toml, pass on the whole tree (so CI runs them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}{result.stderr}"


def test_ruff_check_passes():
    _run("ruff", "check", ".")


def test_ruff_format_is_applied():
    _run("ruff", "format", "--check", ".")


def test_mypy_strict_passes():
    _run("mypy")
