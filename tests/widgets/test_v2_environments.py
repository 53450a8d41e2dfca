"""The Images tab lists the notebook's flyte v2 environments and the image each one runs in."""

from shell_helpers import run_cell

V2 = """
import flyte

env = flyte.TaskEnvironment(name="demo", image="ghcr.io/org/v2:1")
gpu_env = flyte.TaskEnvironment(name="trainer", image=flyte.Image.from_ref_name("gpu"))

@env.task
def cube(x: int) -> int:
    return x ** 3

@gpu_env.task
def train(x: int) -> int:
    return x
"""


def env_lines(panel):
    return panel.images.environments.value.split("<div class='flyte-jupyter-v2-env'>")[1:]


def test_v2_environments_show_their_image_and_the_refs_they_need(nb, panel, monkeypatch):
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    assert env_lines(panel) == []  # a flytekit-only notebook: nothing about v2
    run_cell(nb, V2, cell_id="v2")
    demo, trainer = sorted(env_lines(panel))
    assert "<code>demo</code>" in demo
    assert "<code>ghcr.io/org/v2:1</code>" in demo
    assert "<code>trainer</code>" in trainer
    assert "ref <code>gpu</code>" in trainer
    assert "not set" in trainer
    runnable = [value for _, value in panel.runner.entity.options]
    assert {"cube", "train"} <= set(runnable)  # v2 tasks are offered like any other

    row = panel.images.add_row()  # setting the ref in the same tab resolves it
    row.name.value = "gpu"
    row.uri.value = "ghcr.io/org/gpu:2"
    assert row.error.value == ""
    trainer = sorted(env_lines(panel))[1]
    assert "ref <code>gpu</code>: <code>ghcr.io/org/gpu:2</code>" in trainer
    assert "not set" not in trainer


def test_an_image_with_markup_is_shown_as_text(nb, panel, monkeypatch):
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    run_cell(
        nb,
        'import flyte\n\nenv = flyte.TaskEnvironment(name="x", image="o/i:1<b>y")\n',
        cell_id="v2",
    )
    assert "<b>y" not in panel.images.environments.value
    assert "o/i:1&lt;b&gt;y" in panel.images.environments.value
