"""Suite-wide setup: every test and every kernel it starts gets a private FLYTE_JUPYTER_HOME.

nbval starts one kernel per notebook but, unlike jupyter_server, does not tell it which
notebook it runs (``JPY_SESSION_NAME``); the hook below does, so generated modules are named
after the notebook exactly as they are in JupyterLab.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

_HOME = tempfile.mkdtemp(prefix="flyte-jupyter-home-")
os.environ["FLYTE_JUPYTER_HOME"] = _HOME  # before any kernel starts: they inherit it


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    """Name the notebook to the kernel nbval starts for it, as jupyter_server would."""
    path = Path(str(item.fspath))
    if path.suffix == ".ipynb":
        os.environ["JPY_SESSION_NAME"] = str(path)
    yield
