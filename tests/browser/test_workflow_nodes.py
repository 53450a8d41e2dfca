"""JupyterLab in Chromium: a workflow launched from a notebook shows its nodes on its run page."""

from __future__ import annotations

import nbformat
import pytest
from lab_helpers import screenshot
from nbformat.v4 import new_code_cell, new_notebook
from test_lab import open_lab, open_sidebar, run_all_cells, wait_for_runs

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
    nb = new_notebook(cells=[new_code_cell(source) for source in CELLS])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, lab.root / "nodes.ipynb")
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
