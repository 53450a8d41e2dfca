"""JupyterLab in Chromium: the panel's Deploy button registers the picked task on a stand-in
Flyte admin, runs nothing, and shows the result table in the panel; a second Deploy finds it
already registered.

The stand-in admin (``tests/remote/standin_admin.py``, not Flyte) and a moto S3 server (the
bundle store) run in this process; the lab is started with a flytekit config naming both
(``FLYTECTL_CONFIG``), so every kernel it starts deploys there.
"""

from __future__ import annotations

import logging
import sys
import textwrap
from pathlib import Path

import pytest
import requests
from lab_helpers import ARTIFACTS, screenshot
from lab_server import open_notebook_with_panel, start_lab, stop_lab

# the stand-in lives with the remote tests (whose conftest puts it on the path when they run)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "remote"))
from standin_admin import StandinFlyte

pytestmark = pytest.mark.slow

BUCKET = "bundles"
NOTEBOOK = "deploy.ipynb"
SQUARE = "nb_deploy.square"
CELLS = [
    "%load_ext flyte_jupyter",
    """from flytekit import task

@task
def square(x: int) -> int:
    return x * x""",
    "%flyte_panel",
]


@pytest.fixture(scope="module")
def standin():
    server = StandinFlyte().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def bucket_endpoint():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        requests.put(f"{endpoint}/{BUCKET}", timeout=10).raise_for_status()
        yield endpoint
    finally:
        server.stop()


@pytest.fixture(scope="module")
def lab(tmp_path_factory, standin, bucket_endpoint):
    """A lab whose kernels deploy to the stand-in admin and store bundles in the moto bucket."""
    base = tmp_path_factory.mktemp("deploy-lab")
    config = base / "flyte-config.yaml"
    config.write_text(
        textwrap.dedent(f"""\
            admin:
              endpoint: {standin.endpoint}
              insecure: true
            console:
              endpoint: {standin.console}
            storage:
              connection:
                endpoint: {bucket_endpoint}
                access-key: testing
                secret-key: testing
            """),
        encoding="utf-8",
    )
    (base / "user").mkdir()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with pytest.MonkeyPatch.context() as env:  # the lab and its kernels inherit these
        env.setenv("FLYTECTL_CONFIG", str(config))
        env.setenv("FLYTE_JUPYTER_STORE", f"s3://{BUCKET}/nb")
        env.setenv("HOME", str(base / "user"))  # no ~/.flyte/config of the machine
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        env.setenv("DO_NOT_TRACK", "1")
        env.setenv("GRPC_VERBOSITY", "ERROR")
        for name in ("FLYTE_JUPYTER_ENDPOINT", "FLYTE_PLATFORM_URL", "FLYTE_JUPYTER_BACKEND"):
            env.delenv(name, raising=False)
        started = start_lab(base, ARTIFACTS / "deploy-jupyterlab.log")
    try:
        yield started
    finally:
        stop_lab(started)


def deploy(panel, status):
    """Press Deploy; wait until the result table shows ``status`` (or an error shows)."""
    button = panel.locator("button.widget-button", has_text="Deploy")
    button.click()
    result = panel.locator(".flyte-jupyter-deployment")
    error = panel.locator(".flyte-jupyter-error")
    result.locator(f"td:text-is('{status}')").or_(error).first.wait_for(timeout=180_000)
    assert error.count() == 0, error.all_inner_texts()
    expect(button).to_be_enabled()
    return result


def rows(result):
    """The result table's rows: kind, name, version, status, console cells."""
    return [row.locator("td").all_inner_texts() for row in result.locator("tbody tr").all()]


def expect(locator):
    from playwright.sync_api import expect

    return expect(locator)


def test_deploy_registers_the_picked_task_and_shows_it_in_the_panel(page, lab, standin):
    panel = open_notebook_with_panel(page, lab, NOTEBOOK, CELLS)
    panel.locator(".lm-TabBar-tab", has_text="Run").first.click()
    picker = panel.locator(".widget-dropdown:visible:has(> label:text-is('Task/workflow')) select")
    picker.select_option(label="square (task)")
    standin.reset()

    result = deploy(panel, "registered")
    assert "1 newly registered, 0 already registered" in result.inner_text()
    ((kind, name, shown_version, status, console),) = rows(result)
    assert (kind, name, status, console) == ("task", SQUARE, "registered", "open")
    link = result.locator(f'a[href^="{standin.console}"]')
    assert link.count() == 1
    assert SQUARE in link.get_attribute("href")
    expect(panel.locator("button.widget-button", has_text="Run").first).to_be_enabled()
    page.wait_for_timeout(300)  # let the progress bar settle for the picture
    result.scroll_into_view_if_needed()
    screenshot(page, "12-panel-deploy")

    assert standin.methods() == ["CreateTask"]
    assert "CreateExecution" not in standin.methods()
    assert standin.executions == {}
    ((project, domain, name, version),) = standin.tasks
    assert (project, domain, name) == ("flytesnacks", "development", SQUARE)
    assert shown_version == version
    assert version in link.get_attribute("href")

    # again: the same bundle and version, already registered; still nothing run
    result = deploy(panel, "already registered")
    assert rows(result) == [["task", SQUARE, version, "already registered", "open"]]
    assert standin.methods() == ["CreateTask"]
    assert "0 newly registered, 1 already registered" in result.inner_text()
    assert len(standin.tasks) == 1  # one task, whatever CreateTask calls flytekit repeated
    assert standin.executions == {}
    screenshot(page, "13-panel-deploy-again")
