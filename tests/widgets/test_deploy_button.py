"""The panel's Deploy button: errors shown inline, one thing at a time, Run untouched."""

import threading

import pytest

import flyte_jupyter.deploy
from flyte_jupyter.deploy import Deployment
from flyte_jupyter.errors import FlyteJupyterError
from flyte_jupyter.launch.model import Deployed


@pytest.fixture
def no_flyte_config(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("FLYTECTL_CONFIG", "FLYTE_JUPYTER_ENDPOINT", "FLYTE_PLATFORM_URL"):
        monkeypatch.delenv(name, raising=False)


def test_the_deploy_button_sits_beside_run(panel):
    runner = panel.runner
    assert runner.deployer.button.description == "Deploy"
    assert any(runner.deployer.button in getattr(c, "children", ()) for c in runner.widget.children)
    assert runner.deployer.button.tooltip


@pytest.mark.usefixtures("no_flyte_config")
def test_without_an_endpoint_deploy_says_how_to_configure_one(panel):
    deployer = panel.runner.deployer
    panel.runner.entity.value = "square"
    deployer.button.click()
    assert deployer.wait(60) is None
    shown = deployer.error.value
    assert "needs a Flyte endpoint" in shown
    assert "FLYTE_JUPYTER_ENDPOINT" in shown
    assert deployer.result.value == ""
    assert not deployer.button.disabled
    with pytest.raises(FlyteJupyterError, match="needs a Flyte endpoint"):
        panel.deploy("square")


def test_deploy_and_run_are_disabled_while_a_deploy_is_under_way(panel, monkeypatch):
    release = threading.Event()
    started = threading.Event()
    calls = []

    def slow_deploy(request, *, dry_run=False, progress=None):
        del progress
        calls.append((request.targets, dry_run))
        started.set()
        assert release.wait(30)
        return Deployment(
            version="v1",
            project="flytesnacks",
            domain="development",
            deployed=(Deployed("task", "nb_my_analysis.square", "v1", "registered", None),),
        )

    monkeypatch.setattr(flyte_jupyter.deploy, "deploy", slow_deploy)
    runner = panel.runner
    runner.entity.value = "square"
    runner.deployer.button.click()
    assert started.wait(30)
    assert runner.deployer.button.disabled
    assert runner.button.disabled
    runner.deployer.button.click()  # a second click while busy starts nothing
    runner.button.click()  # nor does Run
    assert runner.launching is None
    release.set()
    result = runner.deployer.wait(30)
    assert calls == [(("square",), False)]
    assert result is not None
    assert "nb_my_analysis.square" in runner.deployer.result.value
    assert not runner.deployer.button.disabled
    assert not runner.button.disabled


def test_deploy_refuses_while_an_edit_is_refused(panel):
    panel.state.reject("domain", "domain must not be empty", "")
    with pytest.raises(FlyteJupyterError, match="domain"):
        panel.deploy("square")
    assert "domain" in panel.runner.deployer.error.value
