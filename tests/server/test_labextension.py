"""The JupyterLab extension's own checks, run in the suite so CI runs them: lint and unit tests.

``jlpm`` comes with JupyterLab; the extension's node_modules are installed by the package build
(``pip install -e .``), or here when they are missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

LABEXTENSION = Path(__file__).resolve().parents[2] / "labextension"


@pytest.fixture(scope="module")
def jlpm():
    found = shutil.which("jlpm")
    if found is None:
        pytest.fail("jlpm (from the jupyterlab package) is not on PATH: pip install -e '.[test]'")
    if not (LABEXTENSION / "node_modules" / ".bin" / "eslint").exists():
        _run([found, "install"])
    return found


def _run(command: list[str]) -> str:
    result = subprocess.run(
        command, cwd=LABEXTENSION, capture_output=True, text=True, timeout=300, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{output}"
    return output


def test_typescript_is_formatted_and_lint_free(jlpm):
    _run([jlpm, "run", "lint:check"])


def test_typescript_unit_tests_pass(jlpm):
    output = _run([jlpm, "run", "test"])
    assert "# fail 0" in output
    assert "# pass 0" not in output
