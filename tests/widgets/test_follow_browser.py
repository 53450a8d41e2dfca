"""Runs you can follow, in a real JupyterLab in headless Chromium (issue 13, items 3 and 7).

One notebook: a refused panel edit stays and Run refuses it; a ``%flyte_run`` cell shows the
run live (log tail, Cancel) and Cancel stops it; after a kernel restart the panel says it is
disconnected and the run's output still follows the run to its end instead of showing
RUNNING forever. Screenshots go to test-artifacts/ (follow-*.png).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lab_server import (
    chromium,
    lab_command,
    new_page,
    open_notebook_with_panel,
    start_lab,
    stop_lab,
)

from flyte_jupyter.launch import RunStore
from flyte_jupyter.launch.local import LocalLauncher

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CELLS = [
    "%load_ext flyte_jupyter",
    """import time
from flytekit import task

@task
def slow(n: int) -> int:
    for i in range(n):
        print(f"tick {i}", flush=True)
        time.sleep(0.5)
    return n""",
    "%flyte_panel",
    "%flyte_run slow(n=600)",
    "%flyte_settings",
]


# pytest-jupyter (if active) runs an asyncio loop that Playwright's sync API cannot share
@pytest.fixture
def jp_asyncio_loop():
    return None


@pytest.fixture
def jp_server_cleanup():
    return None


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    lab = start_lab(tmp_path_factory.mktemp("follow-lab"), ARTIFACTS / "follow-jupyterlab.log")
    try:
        yield lab
    finally:
        stop_lab(lab)


@pytest.fixture
def page():
    with chromium() as browser, new_page(browser, 1280, 1100, 60_000) as page:
        yield page


def expect(locator):
    from playwright.sync_api import expect

    return expect(locator)


def shot(page, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


def cancel_leftovers(lab):
    launcher = LocalLauncher(lab.home, max_parallel=1, server_url=None)
    for record in RunStore(lab.home / "runs.sqlite").list():
        if not record.done:
            launcher.cancel(record)


def test_follow_a_run_in_the_cell_and_the_panel_across_a_kernel_restart(page, lab):
    try:
        panel = open_notebook_with_panel(page, lab, "follow.ipynb", CELLS)
        run_cell = page.locator(".jp-Cell").nth(3)
        check_live_cell(page, run_cell)
        check_settings_table(page)
        check_refused_edit(page, lab, panel)
        check_cancel(page, run_cell)
        check_restart(page, lab, panel, run_cell)
    except Exception:
        shot(page, "follow-failed.png")
        raise
    finally:
        cancel_leftovers(lab)


def check_live_cell(page, run_cell):
    """The live cell display: in JupyterLab the extension renders the run the kernel emits
    (status, duration, log tail, a confirmed Cancel) live from the server; the kernel adds
    no Cancel button of its own there."""
    output = run_cell.locator(".fj-run-output")
    expect(output).to_contain_text("tick 2", timeout=120_000)
    expect(output).to_contain_text("RUNNING")
    expect(output.locator(".fj-run-output-cancel")).to_be_visible()
    # one Cancel: the kernel's widget button (for frontends without the extension) is hidden
    expect(run_cell.locator("button:visible", has_text="Cancel run")).to_have_count(1)
    output.scroll_into_view_if_needed()
    shot(page, "follow-live-cell.png")


def check_settings_table(page):
    """Item 12: the settings table reads left-aligned, columns as wide as their content."""
    cell = page.locator(".jp-Cell").nth(4).locator("table.flyte-jupyter-settings td").first
    cell.wait_for()
    assert cell.evaluate("td => getComputedStyle(td).textAlign") in ("left", "start")
    layout = "t => getComputedStyle(t).tableLayout"
    assert page.locator("table.flyte-jupyter-settings").evaluate(layout) == "auto"


def check_refused_edit(page, lab, panel):
    """Item 3: a refused edit stays, and the panel's Run refuses it."""
    project = panel.locator(".widget-text:has(> label:text-is('Project')) input")
    project.fill("Bad_Project")
    project.press("Enter")
    expect(panel.locator(".flyte-jupyter-error", has_text="Not in effect: project")).to_be_visible()
    expect(
        panel.locator(".flyte-jupyter-error", has_text="not a valid Flyte project").first
    ).to_be_visible()
    panel.locator(".lm-TabBar-tab", has_text="Run").first.click()
    panel.locator("button.widget-button", has_text="Run").first.click()
    refusal = panel.locator(".flyte-jupyter-error", has_text="fix it or press Reset")
    expect(refusal).to_contain_text("not a valid Flyte project")
    expect(project).to_have_value("Bad_Project")
    panel.scroll_into_view_if_needed()
    shot(page, "follow-refused-edit.png")
    assert len(RunStore(lab.home / "runs.sqlite").list()) == 1  # nothing ran


def check_cancel(page, run_cell):
    """The output kept following meanwhile; Cancel (confirmed) stops the run; it ends."""
    output = run_cell.locator(".fj-run-output")
    expect(output).to_contain_text("tick 6", timeout=30_000)
    output.locator(".fj-run-output-cancel").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Cancel this run?")
    dialog.locator("button.jp-mod-warn").click()
    # the kernel's last frame: the ended run's summary, the same in every frontend
    aborted = run_cell.locator(".flyte-jupyter-run", has_text="ABORTED")
    expect(aborted).to_be_visible(timeout=60_000)
    expect(output).to_have_count(0)


def check_restart(page, lab, panel, run_cell):
    """Run it again, restart the kernel while it runs: the panel says it is disconnected and
    the run's output keeps following the run (from the server) until it ends."""
    output = run_cell.locator(".fj-run-output")
    run_cell.locator(".jp-InputPrompt").click()  # not the output: it has a link
    lab_command(page, "notebook:run-cell")
    expect(output).to_contain_text("tick 1", timeout=120_000)
    lab_command(page, "notebook:restart-kernel")
    page.locator(".jp-Dialog button", has_text="Restart").click()
    # the widget manager marks the dead kernel's widgets; the panel then hides its (stale)
    # values and says it is disconnected
    expect(panel).to_have_class(re.compile("jupyter-widgets-disconnected"), timeout=60_000)
    expect(panel.locator(".lm-TabBar").first).to_be_hidden()
    before = panel.evaluate("el => getComputedStyle(el, '::before').content")
    assert "Disconnected: the kernel of this panel stopped or restarted" in before
    page.wait_for_timeout(500)
    shot(page, "follow-after-restart.png")
    cancel_leftovers(lab)  # the run ends with no kernel to update its output
    expect(output).to_contain_text("ABORTED", timeout=60_000)  # not frozen at RUNNING
    shot(page, "follow-after-restart-ended.png")
