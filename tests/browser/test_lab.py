"""JupyterLab in Chromium: a notebook launches real runs; the sidebar and run pages show them."""

from __future__ import annotations

import json
import time

import pytest
from lab_helpers import screenshot
from lab_server import write_notebook

pytestmark = pytest.mark.slow

SIDEBAR_TAB = '.jp-SideBar.jp-mod-left li[data-id="flyte-jupyter-runs"]'
EVIL = "<script>alert(1)</script>"
CELLS = [
    "%load_ext flyte_jupyter",
    """%%flyte_run --wait
from flytekit import task

@task
def square(x: int) -> int:
    print(f"squaring {x}")
    return x * x

square(x=7)""",
    f"""%%flyte_run --wait --no-raise
@task
def explode(tag: str) -> str:
    if tag:
        raise ValueError("boom " + tag)
    return tag

explode(tag={EVIL!r})""",
    """%%flyte_run
import time

@task
def slow(seconds: int) -> int:
    time.sleep(seconds)
    return seconds

slow(seconds=600)""",
    """%%flyte_run
@task
def nap(seconds: int) -> int:
    time.sleep(seconds)
    return seconds

nap(seconds=600)""",
]


def notebook_for(lab, name="launch_runs.ipynb"):
    write_notebook(lab.root / name, CELLS)
    return name


def open_lab(page, lab, path="lab"):
    page.goto(f"{lab.url}{path}?token={lab.token}")
    page.wait_for_selector("#jp-main-dock-panel")
    tab = page.locator(SIDEBAR_TAB)
    tab.wait_for(state="visible")  # the labextension is installed and loaded
    return tab


def open_sidebar(page):
    if not page.locator("#flyte-jupyter-runs").is_visible():
        page.locator(SIDEBAR_TAB).click()
    page.locator("#flyte-jupyter-runs").wait_for(state="visible")


def run_menu(page, menu, item):
    """Pick a menu bar item, e.g. Run > Run All Cells."""
    page.locator(".lm-MenuBar-item", has_text=menu).first.click()
    page.locator(f'.lm-Menu-item:has(.lm-Menu-itemLabel:text-is("{item}"))').click()


def run_all_cells(page):
    """Run > Run All Cells once the kernel is connected (earlier, the request can be lost)."""
    page.locator(".jp-Notebook .jp-Cell").first.wait_for()
    page.locator("#jp-main-statusbar", has_text="| Idle").wait_for(timeout=60_000)
    first_prompt = page.locator(".jp-Notebook .jp-InputPrompt").first
    for _ in range(3):
        run_menu(page, "Run", "Run All Cells")
        for _ in range(40):
            if first_prompt.inner_text().strip() not in ("[ ]:", ""):
                return
            page.wait_for_timeout(250)
    pytest.fail("Run All Cells did not start the notebook's cells")


def wait_for_runs(lab, page, expected, timeout=90):
    """Poll the API until runs of these entities reach these statuses."""
    deadline = time.monotonic() + timeout
    while True:
        runs = {run["entity"]: run for run in lab.runs()}
        got = {entity: runs.get(entity, {}).get("status") for entity in expected}
        if got == expected:
            return runs
        if time.monotonic() > deadline:
            screenshot(page, "failed-waiting-for-runs")
            pytest.fail(f"runs are {got}, expected {expected}; log: {json.dumps(list(runs))}")
        time.sleep(0.5)


def confirm_cancel(page):
    """Answer "Cancel this run?" with "Cancel run"."""
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    assert "Cancel this run?" in dialog.inner_text()
    dialog.locator("button.jp-mod-warn").click()


def page_follows_the_theme(page, run_id):
    """The open run page tab follows a switch to the dark theme and back (no page script)."""
    selector = f"#flyte-jupyter-run-{run_id} iframe"
    assert page.locator(selector).get_attribute("src").endswith("?theme=light")
    change_theme(page, "JupyterLab Dark")
    page.wait_for_function(
        f"document.querySelector('{selector}').getAttribute('src').endsWith('?theme=dark')"
    )
    page.frame_locator(selector).locator("h1").first.wait_for()
    change_theme(page, "JupyterLab Light")
    page.wait_for_function(
        f"document.querySelector('{selector}').getAttribute('src').endsWith('?theme=light')"
    )


def change_theme(page, name):
    """Settings > Theme > ``name``, as a user switches JupyterLab's theme."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text=name).first.click()


def cancel_from_its_page(page, lab, run):
    """Open a running run's page in a tab; cancel it there, confirming; see the page follow."""
    # the tab's frame is sandboxed without scripts (a framed page with scripts and
    # same-origin could lift its own sandbox); the tab follows the run and cancels it, asking first
    page.locator(f'.fj-run[data-run-id="{run["id"]}"]').click()
    tab = page.locator(f"#flyte-jupyter-run-{run['id']}")
    sandbox = tab.locator("iframe").get_attribute("sandbox").split()
    assert "allow-scripts" not in sandbox
    assert "allow-same-origin" in sandbox
    frame = page.frame_locator(f"#flyte-jupyter-run-{run['id']} iframe")
    frame.locator(".fj-badge", has_text="RUNNING").first.wait_for()
    assert frame.locator("#fj-cancel").count() == 0  # the page's own button needs its script
    tab.locator(".fj-run-page-cancel button, button.fj-run-page-cancel").first.click()
    confirm_cancel(page)
    frame.locator(".fj-badge", has_text="ABORTED").first.wait_for()  # reloaded by the tab
    assert wait_for_runs(lab, page, {run["entity"]: "ABORTED"})


def test_empty_sidebar_tells_how_to_launch_a_first_run(page, lab):
    assert lab.runs() == []
    open_lab(page, lab)
    open_sidebar(page)
    empty = page.locator("#flyte-jupyter-runs .fj-runs-empty")
    empty.wait_for(state="visible")
    assert "%load_ext flyte_jupyter" in empty.inner_text()
    assert "%%flyte_run" in empty.inner_text()
    # the commands are in the palette
    page.keyboard.press("Control+Shift+C")
    page.locator(".lm-CommandPalette-input").fill("Flyte")
    labels = page.locator(".lm-CommandPalette-itemLabel").all_inner_texts()
    assert {"Show Flyte Runs", "Refresh Flyte Runs", "Open Flyte Run…", "Cancel Flyte Run…"} <= set(
        labels
    )
    page.keyboard.press("Escape")
    screenshot(page, "01-empty-sidebar")


def test_runs_launched_from_a_notebook_show_in_the_sidebar_and_on_their_pages(page, lab):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    name = notebook_for(lab)
    open_lab(page, lab, f"lab/tree/{name}")
    run_all_cells(page)

    runs = wait_for_runs(
        lab,
        page,
        {"square": "SUCCEEDED", "explode": "FAILED", "slow": "RUNNING", "nap": "RUNNING"},
    )
    square, explode, slow, nap = runs["square"], runs["explode"], runs["slow"], runs["nap"]
    # the kernel found the lab that started it: run URLs are this server's run pages, relative
    # to it, so they work from whatever host the browser reached it through
    assert square["url"] == f"/flyte-jupyter/runs/{square['id']}"

    open_sidebar(page)
    for run, status in ((square, "SUCCEEDED"), (explode, "FAILED"), (slow, "RUNNING")):
        item = page.locator(f'.fj-run[data-run-id="{run["id"]}"]')
        item.wait_for()
        assert item.get_attribute("data-status") == status
        text = item.inner_text()
        assert run["entity"] in text
        assert run["flyte_name"].rpartition(".")[0] in text  # its module
        assert "development" in text
        assert run["bundle_digest"][:8] in text
    page.wait_for_timeout(400)  # let the spinner and outputs settle for the picture
    screenshot(page, "02-sidebar-with-runs")

    # cancel the slow run from the list, confirming; the sidebar follows it
    page.locator(f'.fj-run[data-run-id="{slow["id"]}"] .fj-run-cancel').click()
    confirm_cancel(page)
    page.locator(f'.fj-run[data-run-id="{slow["id"]}"][data-status="ABORTED"]').wait_for()
    assert wait_for_runs(lab, page, {"slow": "ABORTED"})

    cancel_from_its_page(page, lab, nap)

    # a click opens the run page in a JupyterLab tab
    page.locator(f'.fj-run[data-run-id="{square["id"]}"]').click()
    frame = page.frame_locator(f"#flyte-jupyter-run-{square['id']} iframe")
    frame.locator("h1", has_text="square").wait_for()
    assert "SUCCEEDED" in frame.locator(".fj-badge").first.inner_text()
    body = frame.locator("body").inner_text()
    assert "49" in frame.locator(".fj-values").last.inner_text()  # the output
    assert "squaring 7" in frame.locator("#fj-log").inner_text()  # the log
    assert "def square(x: int) -> int:" in body  # the generated module, from the bundle
    assert "pyflyte-fast-execute" in body  # the container command
    screenshot(page, "03-run-page")
    page_follows_the_theme(page, square["id"])

    page.locator(f'.fj-run[data-run-id="{explode["id"]}"]').click()
    frame = page.frame_locator(f"#flyte-jupyter-run-{explode['id']} iframe")
    frame.locator(".fj-badge", has_text="FAILED").first.wait_for()
    error = frame.locator("pre.fj-error").inner_text()
    assert f"boom {EVIL}" in error  # shown as text, not run
    frame.locator("#fj-log").scroll_into_view_if_needed()
    screenshot(page, "04-failed-run-page")

    # the run link that %%flyte_run printed in the notebook opens in a JupyterLab tab too
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text="launch_runs.ipynb").click()
    page.locator(f'.jp-OutputArea a[href$="/flyte-jupyter/runs/{slow["id"]}"]').first.click()
    frame = page.frame_locator(f"#flyte-jupyter-run-{slow['id']} iframe")
    frame.locator(".fj-badge", has_text="ABORTED").first.wait_for()
    assert len(page.context.pages) == 1  # no browser tab was opened
    frame.locator("h2", has_text="Serialization").scroll_into_view_if_needed()
    screenshot(page, "05-aborted-run-page-bundle-and-command")
    assert dialogs == []
