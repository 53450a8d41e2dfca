"""Run from the panel: the inputs form, the Run button, real local runs and the runs list."""

import html

import ipywidgets as w
import pytest
from shell_helpers import run_cell

from flyte_jupyter.errors import InputError
from flyte_jupyter.launch import RunStore
from flyte_jupyter.widgets.inputs import decode_json
from flyte_jupyter.widgets.runs import age, runs_html


def test_the_form_follows_the_interface(panel):
    runner = panel.runner
    assert runner.entity.value == "square"
    assert isinstance(runner.form.fields["x"].control, w.IntText)
    runner.entity.value = "describe"
    fields = runner.form.fields
    assert isinstance(fields["p"].control, w.Textarea)
    assert isinstance(fields["scale"].control, w.FloatText)
    assert isinstance(fields["label"].control, w.Text)
    assert isinstance(fields["loud"].control, w.Checkbox)
    assert (fields["scale"].control.value, fields["label"].control.value) == (1.5, "pt")
    assert fields["p"].control.placeholder == "JSON for Point"
    assert all(f.control.description == name for name, f in fields.items())


def test_json_inputs_are_decoded_and_checked_inline(panel, nb):
    runner = panel.runner
    runner.entity.value = "describe"
    form = runner.form
    assert form.values() is None
    assert "required: give JSON for Point" in form.fields["p"].error.value

    form.fields["p"].control.value = "{'x': 1}"
    assert form.values() is None
    assert "not valid JSON" in form.fields["p"].error.value

    form.fields["p"].control.value = '{"x": "one", "y": 2}'
    assert form.values() is None
    assert "does not fit Point" in form.fields["p"].error.value

    form.fields["p"].control.value = '{"x": 1, "y": 2}'
    values = form.values()
    assert values["p"] == nb.user_ns["Point"](x=1, y=2)
    assert form.fields["p"].error.value == ""
    assert values == {"p": values["p"], "scale": 1.5, "label": "pt", "loud": False}

    form.fields["p"].control.value = ""
    runner.button.click()  # bad inputs never start a launch
    assert runner.launching is None
    assert "not valid" in runner.error.value


def test_decode_json_builds_nested_types():
    from dataclasses import dataclass

    @dataclass
    class Inner:
        v: float

    @dataclass
    class Outer:
        items: list[Inner]
        tags: dict[str, int]
        note: str | None = None

    value = decode_json('{"items": [{"v": 1}], "tags": {"a": 2}}', Outer)
    assert value == Outer(items=[Inner(v=1.0)], tags={"a": 2})
    assert decode_json("[1, 2]", list[int]) == [1, 2]
    assert decode_json("null", int | None) is None
    with pytest.raises(ValueError, match="not valid JSON"):
        decode_json("[1,", list[int])


def test_a_type_error_from_flytekit_lands_next_to_its_field(nb):
    run_cell(nb, "@task\ndef listy(xs: list[int]) -> int:\n    return sum(xs)\n", cell_id="l")
    panel = nb.run_line_magic("flyte_panel", "")
    try:
        panel.runner.entity.value = "listy"
        form = panel.runner.form
        form.fields["xs"].control.value = '["a", "b"]'
        assert form.values() is None
        assert "xs" in html.unescape(form.fields["xs"].error.value)
    finally:
        panel.close()


def test_programmatic_run_errors_are_raised_and_shown(panel):
    with pytest.raises(InputError, match="has no input y"):
        panel.run("square", {"y": 1})
    assert "has no input y" in panel.runner.error.value


@pytest.mark.slow
def test_run_button_runs_a_task_to_succeeded_and_the_runs_list_shows_it(panel, tmp_path):
    seen = []
    panel.on_run(seen.append)
    panel.target.domain.control.value = "staging"
    panel.select("Run")
    panel.runner.form.fields["x"].control.value = 7
    panel.runner.button.click()
    run = panel.runner.wait(120)
    assert run is not None, panel.runner.error.value
    assert seen == [run]
    assert run.wait(timeout=120).status == "SUCCEEDED", run.logs()
    assert run.outputs == 49
    assert panel.runner.progress.bar.bar_style == "success"

    record = RunStore(tmp_path / "home" / "runs.sqlite").get(run.id)
    assert (record.domain, record.flyte_name) == ("staging", "nb_my_analysis.square")
    assert record.notebook == str(tmp_path / "My Analysis.ipynb")
    assert record.inputs == {"x": "7"}

    panel.select("Runs")
    table = panel.runs.table.value
    assert "SUCCEEDED" in table
    assert f"<a href='/flyte-jupyter/runs/{run.id}'" in table
    assert "nb_my_analysis.square" in table
    assert ">staging<" in table

    # the launched run's own display follows it too
    for _ in range(40):
        if "SUCCEEDED" in panel.runner.status.value:
            break
        panel.runner.status.value  # noqa: B018 - the follower thread updates it
        import time

        time.sleep(0.25)
    assert "SUCCEEDED" in panel.runner.status.value


@pytest.mark.slow
def test_programmatic_run_and_magic_runs_appear_in_the_list(nb, panel):
    run = panel.run("pipeline", {"x": 4})
    assert run.wait(timeout=120).outputs == 16
    other = run_cell(nb, "%%flyte_run --wait\nsquare(x=5)\n", cell_id="magic-run")
    assert other.status == "SUCCEEDED"
    ids = [r.id for r in panel.runs.records]  # the cell hook read the store again
    assert ids[:2] == [other.id, run.id]


def test_runs_html_escapes_and_formats_age():
    from flyte_jupyter.launch import RunRecord

    record = RunRecord(
        id="f1",
        backend="local",
        entity="e",
        flyte_name="<b>evil</b>",
        kind="task",
        project="p",
        domain="development",
        version="v",
        status="RUNNING",
        created_at=100.0,
        updated_at=100.0,
        url="/x?a=1&b='2'",
    )
    out = runs_html([record], now=100.0 + 125)
    assert "&lt;b&gt;evil&lt;/b&gt;" in out
    assert "<b>evil</b>" not in out
    assert "href='/x?a=1&amp;b=&#x27;2&#x27;'" in out
    assert "2 min ago" in out
    assert (age(5), age(7200), age(200000)) == ("5 s ago", "2 h ago", "2 d ago")
    assert "No runs" in runs_html([], 0)


def test_a_redefined_task_gets_a_new_form(nb, panel):
    assert set(panel.runner.form.fields) == {"x"}
    run_cell(nb, "@task\ndef square(x: int, y: str = 'a') -> int:\n    return x\n", cell_id="v2")
    assert set(panel.runner.form.fields) == {"x", "y"}


def test_invalid_settings_are_shown_and_block_runs(nb, panel):
    run_cell(nb, "%config FlyteJupyter.project = 'Bad Project'")
    assert "not a valid Flyte project" in panel.error.value
    with pytest.raises(InputError, match="not a valid Flyte project"):
        panel.run("square", {"x": 1})
    run_cell(nb, "%config FlyteJupyter.project = 'good'")
    assert panel.error.value == ""
