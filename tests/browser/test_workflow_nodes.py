"""JupyterLab in Chromium: a workflow launched from a notebook shows its nodes on its run page,
and a run page opened in a browser tab follows its log as readable records."""

from __future__ import annotations

import json
import time

import pytest
from lab_helpers import screenshot
from lab_server import write_notebook
from test_lab import open_lab, open_sidebar, run_all_cells, wait_for_runs

from flyte_jupyter.launch.model import RunRecord
from flyte_jupyter.launch.runstore import RunStore

pytestmark = pytest.mark.slow

CELLS = [
    "%load_ext flyte_jupyter",
    """from flytekit import task, workflow

@task
def double(x: int) -> int:
    print(f"doubling {x}")
    return 2 * x

@task
def label(n: int) -> str:
    return f"n={n}"

@task
def check(text: str) -> str:
    if text.endswith("8"):
        raise ValueError(f"refusing {text}")
    return text

@workflow
def pipeline(x: int) -> str:
    return check(text=label(n=double(x=x)))""",
    "%flyte_run --wait --no-raise pipeline(x=4)",
]


def test_a_workflow_run_page_lists_its_nodes(page, lab):
    write_notebook(lab.root / "nodes.ipynb", CELLS)
    open_lab(page, lab, "lab/tree/nodes.ipynb")
    run_all_cells(page)
    run = wait_for_runs(lab, page, {"pipeline": "FAILED"})["pipeline"]

    open_sidebar(page)
    page.locator(f'.fj-run[data-run-id="{run["id"]}"]').click()
    frame = page.frame_locator(f"#flyte-jupyter-run-{run['id']} iframe")
    nodes = frame.locator("#fj-nodes")
    nodes.wait_for()
    rows = nodes.locator("tbody.fj-node")
    assert rows.count() == 3
    statuses = [rows.nth(i).locator(".fj-badge").inner_text().split()[-1] for i in range(3)]
    assert statuses == ["SUCCEEDED", "SUCCEEDED", "FAILED"]
    first = rows.nth(0)
    first.locator("summary").click()  # <details> opens without the page's script
    body = first.inner_text()
    assert "double" in body
    assert "doubling 4" in body  # the node's own part of the log
    rows.nth(1).locator("summary").click()
    assert "'n=8'" in rows.nth(1).inner_text()  # its output
    # a failed node is open from the start, its error pointed at the notebook cell
    error = rows.nth(2).locator("pre.fj-error").inner_text()
    assert "refusing n=8" in error
    assert "→ cell [" in error  # the frame of the generated module, pointed at its cell
    nodes.scroll_into_view_if_needed()
    screenshot(page, "07-workflow-nodes")


def test_a_run_page_in_a_browser_tab_follows_its_log(page, lab):
    # a run record as a supervisor would keep it: running, heard from, writing its log
    run_id = "fliveloglines0000001"
    run_dir = lab.home / "runs" / run_id
    run_dir.mkdir(parents=True)
    log = run_dir / "run.log"
    log.write_text("first line\n", encoding="utf-8")
    now = time.time()
    store = RunStore(lab.home / "runs.sqlite")
    store.add(
        RunRecord(
            id=run_id,
            backend="local",
            entity="tail",
            flyte_name="nb_live.tail",
            kind="task",
            project="flytesnacks",
            domain="development",
            version="v1",
            status="RUNNING",
            created_at=now,
            updated_at=now,
            inputs={"x": "1"},
            run_dir=str(run_dir),
            log_path=str(log),
            heartbeat_at=now + 3600,
        )
    )
    try:
        follow_the_log(page, lab, run_id, log)
    finally:  # no supervisor will: the lab's teardown would try to cancel it
        store.update(run_id, "SUCCEEDED", "done")


def follow_the_log(page, lab, run_id, log):
    page.goto(f"{lab.url}flyte-jupyter/runs/{run_id}?token={lab.token}")
    shown = page.locator("#fj-log")
    shown.locator(".fj-line", has_text="first line").wait_for()
    assert page.locator(".fj-copy").first.is_visible()  # the script runs in a browser tab
    record = {"asctime": "12:00:01", "levelname": "ERROR", "message": "second\nthird"}
    with log.open("a", encoding="utf-8") as out:
        out.write(json.dumps(record) + "\nhalf a li")
    shown.locator(".fj-level-error", has_text="third").wait_for()
    assert "second\nthird" in shown.inner_text()  # a real newline, not an escaped one
    assert "half a li" not in shown.inner_text()  # a line shows once it is complete
    with log.open("a", encoding="utf-8") as out:
        out.write("ne\n")
    shown.locator(".fj-line", has_text="half a line").wait_for()
    screenshot(page, "08-run-page-follows-its-log")
