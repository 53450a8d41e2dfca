"""A private JupyterLab and a headless Chromium for the browser tests (sidebar and panel).

Everything the lab and its kernels write (run store, Jupyter runtime and config, settings) goes
to a temporary folder; ``FLYTE_JUPYTER_HOME`` points there for the server and every kernel.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

START_TIMEOUT = 60
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclasses.dataclass(frozen=True)
class Lab:
    """A running JupyterLab."""

    url: str
    token: str
    root: Path
    home: Path
    log: Path
    process: subprocess.Popen[bytes]
    kernel: str = "not checked yet"

    def runs(self) -> list[dict]:
        """The runs the server extension lists."""
        return self.api("flyte-jupyter/api/runs")["runs"]

    def api(self, path: str) -> dict:
        request = urllib.request.Request(  # noqa: S310 - http URL of our own server
            f"{self.url}{path}", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - as above
            return json.loads(response.read())


def write_notebook(path: Path, cells: Sequence[str]) -> None:
    """A notebook of these code cells at ``path``, for the ``python3`` kernel the suite pins."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell(source) for source in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


def lab_command(page: Any, name: str) -> None:
    """Execute JupyterLab command ``name``, not awaited (a dialog's command settles only once
    the dialog is answered)."""
    page.evaluate("name => { window.jupyterapp.commands.execute(name); }", name)


def open_notebook_with_panel(page: Any, lab: Lab, name: str, cells: Sequence[str]) -> Any:
    """Write the notebook, open it in JupyterLab, run all its cells; the panel they show."""
    write_notebook(lab.root / name, cells)
    page.goto(f"{lab.url}lab/tree/{name}?token={lab.token}")
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    page.locator("#jp-main-statusbar", has_text="| Idle").wait_for(timeout=90_000)
    page.wait_for_function("() => window.jupyterapp !== undefined")
    lab_command(page, "application:toggle-left-area")  # room for the panel
    lab_command(page, "notebook:run-all-cells")
    panel = page.locator(".flyte-jupyter-panel")
    panel.wait_for(state="visible", timeout=120_000)
    return panel


def chromium_path() -> str:
    found = os.environ.get("FLYTE_JUPYTER_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail(
            "The browser test needs Debian's Chromium at /usr/bin/chromium: "
            "apt-get update && apt-get install -y chromium (or set FLYTE_JUPYTER_CHROMIUM)."
        )
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_lab_settings(settings: Path) -> None:
    for plugin, values in (
        # keep the news and update toasts out of the screenshots
        ("apputils-extension/notification", {"fetchNews": "false", "checkForUpdates": False}),
        # open notebooks with their kernel, without the "Select Kernel" dialog
        ("notebook-extension/tracker", {"autoStartDefaultKernel": True}),
    ):
        path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def start_lab(base: Path, log: Path, extra_args: tuple[str, ...] = ()) -> Lab:
    """Start JupyterLab on a free port with its state under ``base``; wait until it answers."""
    root, home, settings, runtime, config, workspaces = (
        base / name for name in ("root", "home", "settings", "runtime", "config", "workspaces")
    )
    for folder in (root, home, runtime, config, workspaces):
        folder.mkdir()
    _write_lab_settings(settings)
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "FLYTE_JUPYTER_HOME": str(home),
        "FLYTE_JUPYTER_CONFIG_CEILING": str(root),
        "JUPYTER_RUNTIME_DIR": str(runtime),  # kernels find this server (and only it) here
        "JUPYTER_CONFIG_DIR": str(config),
    }
    env.pop("JPY_SESSION_NAME", None)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                "--allow-root",
                "--ServerApp.ip=127.0.0.1",
                f"--port={port}",
                "--port-retries=0",
                f"--IdentityProvider.token={token}",
                f"--ServerApp.root_dir={root}",
                f"--LabApp.user_settings_dir={settings}",
                f"--LabApp.workspaces_dir={workspaces}",
                "--LabApp.expose_app_in_browser=True",
                *extra_args,
            ],
            env=env,
            cwd=root,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    lab = Lab(f"http://127.0.0.1:{port}/", token, root, home, log, process)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited ({process.returncode}); see {log}")
        try:
            lab.api("api/status")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
            continue
        return _with_checked_kernel(lab)
    stop_lab(lab)
    pytest.fail(f"JupyterLab did not answer within {START_TIMEOUT} s; see {log}")


def _with_checked_kernel(lab: Lab) -> Lab:
    """Fail at once, saying why, unless the lab's default kernel runs this interpreter.

    The suite's conftest pins ``python3`` in a private ``JUPYTER_DATA_DIR``; a kernel running
    another interpreter would fail ``%load_ext flyte_jupyter`` and the test would only time out.
    """
    specs = lab.api("api/kernelspecs")
    name = specs["default"]
    argv = specs["kernelspecs"][name]["spec"]["argv"]
    kernel = f"{name}: {' '.join(argv)}"
    if argv[0] != sys.executable:
        stop_lab(lab)
        pytest.fail(
            f"JupyterLab would start kernel {kernel}, not this interpreter {sys.executable}"
        )
    return dataclasses.replace(lab, kernel=kernel)


def stop_lab(lab: Lab) -> None:
    """Cancel runs still going, then stop the lab (it shuts its kernels down)."""
    from flyte_jupyter.launch.local import LocalLauncher
    from flyte_jupyter.launch.runstore import RunStore

    store = RunStore(lab.home / "runs.sqlite")
    if store.path.exists():
        launcher = LocalLauncher(lab.home, max_parallel=None, server_url=None)
        for record in store.list(limit=1000):
            if not record.done:
                launcher.cancel(record)
    lab.process.terminate()
    try:
        lab.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(lab.process.pid, 9)
        lab.process.wait()


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright (its own browser download does not work here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def new_page(browser: Any, width: int, height: int, timeout_ms: int) -> Iterator[Any]:
    """A page in a fresh browser context (no cookies shared between tests)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    try:
        yield page
    finally:
        context.close()
