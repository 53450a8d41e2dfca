"""A real JupyterLab (started here, on a free port) and headless Debian Chromium via Playwright.

The lab and every kernel it starts share a private FLYTE_JUPYTER_HOME, Jupyter runtime and
config folders, so runs launched from its notebooks land in a run store this module owns, and
their run URLs point at this server. Screenshots and the lab's log go to test-artifacts/browser/.
pytest-jupyter is not loaded here (only tests/server imports it), so Playwright's sync API has
no event loop to clash with.
"""

from __future__ import annotations

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
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from lab_helpers import ARTIFACTS

if TYPE_CHECKING:
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


@dataclass(frozen=True)
class Lab:
    """A running JupyterLab."""

    url: str
    token: str
    root: Path
    home: Path
    process: subprocess.Popen[bytes]

    def api(self, path: str) -> dict:
        """GET a JSON API path with the token."""
        url = f"{self.url}{path}"  # http://127.0.0.1:<port>/...: the lab this module started
        request = urllib.request.Request(url, headers={"Authorization": f"token {self.token}"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read())

    def runs(self) -> list[dict]:
        return self.api("flyte-jupyter/api/runs")["runs"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def chromium_path() -> str:
    found = os.environ.get("FLYTE_JUPYTER_CHROMIUM") or shutil.which("chromium")
    if not found:
        pytest.fail(
            "The browser tests need Debian's Chromium at /usr/bin/chromium: "
            "apt-get update && apt-get install -y chromium (or set FLYTE_JUPYTER_CHROMIUM)."
        )
    return found


def _wait_until_up(lab: Lab, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            pytest.fail(f"JupyterLab exited ({lab.process.returncode}); see {log}")
        try:
            lab.api("api/status")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.25)
            continue
        return
    pytest.fail(f"JupyterLab did not answer within {START_TIMEOUT} s; see {log}")


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


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    base = tmp_path_factory.mktemp("lab")
    root, home, settings, runtime, config, workspaces = (
        base / name for name in ("root", "home", "settings", "runtime", "config", "workspaces")
    )
    for folder in (root, home, runtime, config, workspaces):
        folder.mkdir()
    _write_lab_settings(settings)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "FLYTE_JUPYTER_HOME": str(home),  # the server's run store, and every kernel's
        "FLYTE_JUPYTER_CONFIG_CEILING": str(root),
        "JUPYTER_RUNTIME_DIR": str(runtime),  # kernels find this server (and only it) here
        "JUPYTER_CONFIG_DIR": str(config),
    }
    env.pop("JPY_SESSION_NAME", None)
    log = ARTIFACTS / "jupyterlab.log"
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
                "--FlyteJupyterApp.poll_interval=1",
            ],
            env=env,
            cwd=root,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    lab = Lab(f"http://127.0.0.1:{port}/", token, root, home, process)
    try:
        _wait_until_up(lab, log)
        yield lab
    finally:
        _stop(lab)


def _stop(lab: Lab) -> None:
    """Cancel runs still going (a failed test must leave no process behind), stop the lab."""
    from flyte_jupyter.launch.local import LocalLauncher
    from flyte_jupyter.launch.runstore import RunStore

    store = RunStore(lab.home / "runs.sqlite")
    if store.path.exists():
        launcher = LocalLauncher(lab.home, max_parallel=None, server_url=None)
        for record in store.list(limit=1000):
            if not record.done:
                launcher.cancel(record)
    lab.process.terminate()  # the lab shuts its kernels down on SIGTERM
    try:
        lab.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(lab.process.pid, 9)
        lab.process.wait()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()
