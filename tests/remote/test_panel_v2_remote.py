"""The panel runs and deploys a flyte v2 task on the stand-in v2 control plane, as the magics do."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture
def panel(nb2):
    panel = nb2.run_line_magic("flyte_panel", "")
    yield panel
    panel.runner.wait()
    panel.runner.deployer.wait()
    panel.close()


def test_the_panel_runs_a_v2_task_on_the_cluster_and_deploys_it(panel, standin_v2):
    panel.target.backend.control.value = "remote"
    run = panel.run("square", {"x": 7})
    run.wait(timeout=60)
    assert run.status == "SUCCEEDED", run.logs()
    assert run.outputs == 49
    assert run.url.startswith(f"{standin_v2.url}/v2/domain/development/project/flytesnacks/runs/")
    (created,) = standin_v2.requests("CreateRun")
    assert created.run_id.name == run.id

    deployment = panel.deploy("square")
    assert [(d.kind, d.name, d.status) for d in deployment.deployed] == [
        ("task", "nbv2.square", "registered")
    ]
    assert deployment.version == run.version  # the same code, the same version
    assert "registered" in panel.runner.deployer.result.value
