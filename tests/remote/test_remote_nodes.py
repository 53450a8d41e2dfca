"""A remote workflow run's nodes on its run page: listed from admin into the run's folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from remote_shell import flyte_run
from standin_admin import FAILED, RUNNING, SUCCEEDED, Plan, int_outputs

from flyte_jupyter.redaction import Redactor
from flyte_jupyter.server.details import gather
from flyte_jupyter.server.nodeview import read_nodes

pytestmark = pytest.mark.slow


def page_nodes(record, home):
    redactor = Redactor.of({})
    return read_nodes(record, home, redactor, gather(record, home, redactor).cells)


def test_a_remote_workflows_nodes_show_status_timing_inputs_and_outputs(nb, standin, runs, shared):
    standin.plan(
        Plan(
            phases=[RUNNING, SUCCEEDED],
            outputs=int_outputs(o0=81),
            nodes={
                "n0": (int_outputs(x=3), int_outputs(o0=9)),
                "n1": (int_outputs(x=9), int_outputs(o0=81)),
            },
        )
    )
    run = flyte_run(nb, "--backend remote --wait pipeline(x=3)")
    assert run.outputs == 81
    record = runs.get(run.id)
    assert record.extra["node_entities"] == {
        "n0": "nb_my_analysis.square",
        "n1": "nb_my_analysis.square",
    }
    folder = Path(record.run_dir)
    assert folder == shared / "home" / "runs" / run.id
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    written = json.loads((folder / "nodes.json").read_text())
    assert [n["id"] for n in written["nodes"]] == ["n0", "n1"]
    nodes = page_nodes(record, shared / "home")
    assert [(n.id, n.name, n.status) for n in nodes.nodes] == [
        ("n0", "square", "SUCCEEDED"),
        ("n1", "square", "SUCCEEDED"),
    ]
    assert nodes.nodes[0].inputs == {"x": "3"}
    assert nodes.nodes[1].outputs == {"o0": "81"}
    assert nodes.nodes[0].duration is not None
    # an ended node's data is read once; an ended run's nodes are not listed again
    listed = len(standin.requests("ListNodeExecutions"))
    assert len(standin.requests("GetNodeExecutionData")) == 2
    assert run.status == "SUCCEEDED"
    assert len(standin.requests("ListNodeExecutions")) == listed
    assert len(standin.requests("GetNodeExecutionData")) == 2


def test_a_failed_remote_workflow_shows_the_failed_node_and_its_error(nb, standin, runs, shared):
    standin.plan(Plan(phases=[RUNNING, FAILED], error="ValueError: bad value 3"))
    run = flyte_run(nb, "--backend remote --wait --no-raise pipeline(x=3)")
    assert run.status == "FAILED"
    nodes = page_nodes(runs.get(run.id), shared / "home")
    assert [(n.id, n.status) for n in nodes.nodes] == [("n0", "SUCCEEDED"), ("n1", "FAILED")]
    assert "bad value 3" in "".join(str(s) for s in nodes.nodes[1].error)


def test_a_remote_task_run_lists_no_nodes_and_asks_admin_for_none(nb, standin, runs):
    standin.plan(Plan(phases=[RUNNING, SUCCEEDED], outputs=int_outputs(o0=49)))
    run = flyte_run(nb, "--backend remote --wait square(x=7)")
    assert runs.get(run.id).run_dir is None
    assert standin.requests("ListNodeExecutions") == []
