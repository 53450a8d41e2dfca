"""A notebook whose ``%%flyte_run --wait`` run fails stops there under nbclient (nbconvert,
papermill and nbval execute notebooks the same way); ``--no-raise`` lets it go on."""

from __future__ import annotations

import re

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

pytestmark = pytest.mark.slow

DEFS = """\
from flytekit import task

@task
def boom(x: int) -> int:
    if x:
        raise ValueError(f'bad value {x}')
    return x
"""


def execute(kit, tmp_path, run_cell: str):
    nb = kit.make_notebook(["%load_ext flyte_jupyter", DEFS, run_cell, "print('AFTER the run')"])
    path = tmp_path / "failing.ipynb"
    nbformat.write(nb, path)
    client = NotebookClient(
        nbformat.read(path, as_version=4),
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    try:
        client.execute(env=kit.kernel_env(tmp_path / "home", path))
    except CellExecutionError as exc:
        return client.nb, exc
    return client.nb, None


def test_a_failed_run_stops_the_notebook_at_its_cell(kit, tmp_path):
    nb, error = execute(kit, tmp_path, "%%flyte_run --wait\nr = boom(x=4)\n")
    assert error is not None, "the notebook ran through a failed run"
    assert error.ename == "RunFailedError"
    assert "bad value 4" in error.evalue
    assert "FAILED in cell [2], line 6, in boom: ValueError: bad value 4" in error.evalue
    assert "--no-raise" in error.evalue
    # the cell shows the error (as IPython's error, or in the rich box flytekit installs in
    # IPython, which colours words one by one): compared without colours, frames and spaces
    shown = re.sub(r"\x1b\[[0-9;]*m|[│╭╮╰╯─\s]", "", kit.cell_text(nb.cells[2]))
    assert "RunFailedError" in shown
    assert "ValueError:badvalue4" in shown
    assert "FAILEDincell[2],line6,inboom" in shown
    assert "AFTER the run" not in kit.cell_text(nb.cells[3])  # never executed
    assert nb.cells[3].get("execution_count") is None


def test_no_raise_lets_the_notebook_go_on(kit, tmp_path):
    nb, error = execute(kit, tmp_path, "%%flyte_run --wait --no-raise\nr = boom(x=4)\n")
    assert error is None
    html = "".join(o.get("data", {}).get("text/html", "") for o in nb.cells[2].outputs)
    assert "FAILED" in html
    assert "cell [2], line 6, in boom" in html
    assert "AFTER the run" in kit.cell_text(nb.cells[3])
