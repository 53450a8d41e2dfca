"""The panel's Deploy button against the stand-in admin: it registers and runs nothing."""

from __future__ import annotations

import pytest

from flyte_jupyter.deploy import Deployment

pytestmark = pytest.mark.slow


@pytest.fixture
def panel(nb):
    panel = nb.run_line_magic("flyte_panel", "")
    yield panel
    panel.runner.wait()
    panel.runner.deployer.wait()
    panel.close()


def test_the_deploy_button_registers_the_picked_workflow_and_shows_the_result(panel, standin):
    seen = []
    panel.on_deploy(seen.append)
    panel.target.domain.control.value = "staging"
    panel.select("Run")
    runner = panel.runner
    runner.entity.value = "pipeline"
    runner.deployer.button.click()
    deployment = runner.deployer.wait(120)
    assert deployment is not None, runner.deployer.error.value
    assert seen == [deployment]
    assert isinstance(deployment, Deployment)

    assert standin.methods() == ["CreateTask", "CreateWorkflow", "CreateLaunchPlan"]
    assert standin.executions == {}
    (workflow,) = standin.requests("CreateWorkflow")
    assert (workflow.id.domain, workflow.id.name) == ("staging", "nb_my_analysis.pipeline")
    assert [(d.kind, d.status) for d in deployment.deployed] == [
        ("task", "registered"),
        ("workflow", "registered"),
        ("launch plan", "registered"),
    ]
    shown = runner.deployer.result.value
    assert "<table" in shown
    assert f"/domains/staging/launch_plan/nb_my_analysis.pipeline/version/{deployment.version}" in (
        shown
    )
    assert runner.deployer.error.value == ""
    assert runner.deployer.progress.bar.bar_style == "success"
    assert not runner.deployer.button.disabled
    assert not runner.button.disabled

    again = panel.deploy("pipeline")  # the programmatic form: the same, already registered
    assert [d.status for d in again.deployed] == ["already registered"] * 3
    assert "already registered" in runner.deployer.result.value


def test_an_admin_refusal_is_shown_in_the_panel(panel, standin):
    import grpc

    standin.fail("CreateTask", grpc.StatusCode.PERMISSION_DENIED, "no deploys on fridays")
    panel.runner.entity.value = "square"
    panel.runner.deployer.button.click()
    assert panel.runner.deployer.wait(120) is None
    assert "no deploys on fridays" in panel.runner.deployer.error.value
    assert panel.runner.deployer.result.value == ""
    assert panel.runner.deployer.progress.bar.bar_style == "danger"
    assert not panel.runner.deployer.button.disabled
