"""Under nbclient (nbconvert, papermill, nbval) a live run display ends as static HTML.

No browser renders widgets there; the saved notebook must show the run's final summary with
its outputs (updated in place while later cells ran), not a frame of a running run nor a
widget that cannot render (issue 13, live cell display).
"""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

from flyte_jupyter.display import RUN_MIME

pytestmark = pytest.mark.slow

DEFS = """\
import time
from flytekit import task

@task
def slow(n: int) -> int:
    for i in range(n):
        print(f"tick {i}", flush=True)
        time.sleep(0.2)
    return n * 10
"""
WAIT = """\
import time
from flyte_jupyter.launch.follow import follower
deadline = time.monotonic() + 60
while follower().watches and time.monotonic() < deadline:
    time.sleep(0.1)
"""


def test_a_run_not_waited_for_ends_as_its_final_summary_in_the_saved_notebook(kit, tmp_path):
    nb = kit.make_notebook(["%load_ext flyte_jupyter", DEFS, "%flyte_run slow(n=5)", WAIT])
    path = tmp_path / "live.ipynb"
    nbformat.write(nb, path)
    client = NotebookClient(
        nbformat.read(path, as_version=4),
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute(env=kit.kernel_env(tmp_path / "home", path))
    outputs = client.nb.cells[2].outputs
    html = [o["data"].get("text/html", "") for o in outputs if o["output_type"] == "display_data"]
    assert any("SUCCEEDED" in h and "o0=50" in h for h in html), html
    assert not any("running for" in h for h in html)  # not a frame of a running run
    widgets = [
        o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert widgets == []  # the Cancel button was taken away when the run ended
    assert not any(RUN_MIME in o.get("data", {}) for o in outputs)  # ended: HTML only
