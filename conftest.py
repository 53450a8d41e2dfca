"""Suite-wide setup: the tests see nothing of the machine's Jupyter or flyte_jupyter state.

At import (before any kernel or server starts, so they all inherit it):

* every ``JUPYTER_*`` / ``IPYTHONDIR`` variable of the developer's shell is dropped, and Jupyter's
  data, config and runtime folders and IPython's folder point into one temporary folder;
* that data folder holds the first ``python3`` kernelspec any test can find, pinned to the
  interpreter running the tests. A user-level kernelspec (``~/.local/share/jupyter/kernels``,
  written by any ``ipykernel install --user``) would otherwise start another interpreter, in
  which ``%load_ext flyte_jupyter`` fails;
* ``FLYTE_JUPYTER_HOME`` is private to the run.

nbval starts one kernel per notebook but, unlike jupyter_server, does not tell it which
notebook it runs (``JPY_SESSION_NAME``); the hook below does, so generated modules are named
after the notebook exactly as they are in JupyterLab.

A failed browser test (one using the ``page`` fixture) keeps a screenshot and the tail of the
JupyterLab log (which holds the kernels' output) in its report, and names the kernel it ran.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parent
ARTIFACTS = REPO / "test-artifacts"
KERNEL_NAME = "python3"
LOG_TAIL_LINES = 80


def _data_folders(private: Path) -> list[Path]:
    """``private``, then the Jupyter data folders of this interpreter's installations."""
    prefixes = dict.fromkeys((sys.prefix, sys.base_prefix))
    return [private, *(Path(prefix) / "share" / "jupyter" for prefix in prefixes)]


def _isolate_jupyter(base: Path) -> Path:
    """Point Jupyter and IPython at folders under ``base``; pin ``python3`` to this interpreter."""
    for name in list(os.environ):
        if name.startswith("JUPYTER_") or name in ("IPYTHONDIR", "JPY_SESSION_NAME"):
            del os.environ[name]
    data, config, runtime, ipython = (base / n for n in ("data", "config", "runtime", "ipython"))
    spec_dir = data / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    for folder in (config, runtime, ipython):
        folder.mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"Python 3 (tests: {sys.executable})",
        "language": "python",
        "metadata": {"debugger": True},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
    os.environ.update(
        {
            "JUPYTER_DATA_DIR": str(data),  # replaces ~/.local/share/jupyter
            # searched before every other data folder; then the data folders of the packages
            # this interpreter imports: its own prefix's first, then, in a virtualenv made with
            # --system-site-packages, the installation it extends (jupyter_core alone omits
            # that one, and JupyterLab would lose the widget manager installed there)
            "JUPYTER_PATH": os.pathsep.join(str(d) for d in _data_folders(data)),
            "JUPYTER_CONFIG_DIR": str(config),  # replaces ~/.jupyter
            "JUPYTER_RUNTIME_DIR": str(runtime),  # no developer's server is found as "parent"
            "IPYTHONDIR": str(ipython),  # no profile start-up files
        }
    )
    return spec_dir / "kernel.json"


_BASE = Path(tempfile.mkdtemp(prefix="flyte-jupyter-tests-"))
KERNELSPEC = _isolate_jupyter(_BASE / "jupyter")
os.environ["FLYTE_JUPYTER_HOME"] = tempfile.mkdtemp(prefix="flyte-jupyter-home-")


def pytest_report_header() -> list[str]:
    """Say which interpreter every kernel of this run starts."""
    return [f"kernel {KERNEL_NAME!r} pinned to {sys.executable} ({KERNELSPEC})"]


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    """Name the notebook to the kernel nbval starts for it, as jupyter_server would."""
    path = Path(str(item.fspath))
    if path.suffix == ".ipynb":
        os.environ["JPY_SESSION_NAME"] = str(path)
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[None]:
    """Keep what explains a failed browser test: a screenshot, the lab's log, its kernel."""
    outcome: Any = yield
    report = outcome.get_result()
    funcargs = getattr(item, "funcargs", {})
    if report.when != "call" or not report.failed or "page" not in funcargs:
        return
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / f"failed-{item.name}.png"
    try:
        funcargs["page"].screenshot(path=str(shot))
    except Exception as exc:  # noqa: BLE001 - a dead page must not hide the test's own error
        report.sections.append(("browser", f"no screenshot: {exc}"))
    else:
        report.sections.append(("browser", f"screenshot: {shot}"))
    lab = funcargs.get("lab")
    if lab is not None:
        report.sections.append(("kernel", getattr(lab, "kernel", "unknown")))
        lines = lab.log.read_text(encoding="utf-8", errors="replace").splitlines()
        report.sections.append(
            (f"JupyterLab log ({lab.log}), last lines", "\n".join(lines[-LOG_TAIL_LINES:]))
        )
