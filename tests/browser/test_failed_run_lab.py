"""JupyterLab in Chromium: Run All stops at a %%flyte_run --wait cell whose run fails, and the
cell shows the task's error pointed at the cell that raised it (issue 13, items 2 and 9)."""

from __future__ import annotations

import re

import pytest
from lab_helpers import screenshot
from lab_server import write_notebook
from test_lab import open_lab, run_all_cells

pytestmark = pytest.mark.slow

CELLS = [
    "%load_ext flyte_jupyter",
    """from flytekit import task

@task
def divide(a: int, b: int) -> float:
    total = a * 1.0
    return total / b""",
    """%%flyte_run --wait
r = divide(a=1, b=0)""",
    "print('this cell must not run')",
]


def notebook_for(lab, name="failing_run.ipynb"):
    write_notebook(lab.root / name, CELLS)
    return name


def flat(text: str) -> str:
    """Text without spaces and box-drawing (the error may come in flytekit's rich box)."""
    return re.sub(r"[\s│╭╮╰╯─]", "", text)


def test_run_all_stops_at_the_failed_run_and_shows_its_error_in_the_cell(page, lab):
    name = notebook_for(lab)
    open_lab(page, lab, f"lab/tree/{name}")
    run_all_cells(page)

    cells = page.locator(".jp-Notebook .jp-CodeCell")
    failed = cells.nth(2)
    failed.locator(".jp-OutputArea-output", has_text="RunFailedError").first.wait_for(
        timeout=120_000
    )
    page.locator("#jp-main-statusbar", has_text="| Idle").wait_for(timeout=60_000)
    text = failed.locator(".jp-OutputArea").inner_text()
    assert "ZeroDivisionError" in text
    assert "FAILEDincell[2],line6,individe:ZeroDivisionError" in flat(text), text
    assert "cell[2],line6,individe(nb_failing_run.py,line" in flat(text)  # the mapped frame
    assert "--no-raise" in text
    assert "_launching.py" not in text  # the message, not the frames that raised it
    # the run's own display is there too, FAILED, with its link
    summary = failed.locator(".flyte-jupyter-run").first
    assert "FAILED" in summary.inner_text()
    # Run All stopped: the next cell never ran
    after = cells.nth(3)
    assert after.locator(".jp-InputPrompt").inner_text().strip() in ("[ ]:", "")
    assert "must not run" not in after.locator(".jp-OutputArea").inner_text()
    failed.scroll_into_view_if_needed()
    screenshot(page, "10-run-all-stops-at-a-failed-run")
    run = next(run for run in lab.runs() if run["entity"] == "divide")
    assert run["status"] == "FAILED"
