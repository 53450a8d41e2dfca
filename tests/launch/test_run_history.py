"""Runs from code after a restart: flyte_jupyter.runs(), get_run() and %flyte_runs."""

import time

import pytest
from IPython.core.error import UsageError
from shell_helpers import run_cell

import flyte_jupyter
from flyte_jupyter.errors import LaunchError
from flyte_jupyter.launch import Run, RunRecord, RunStore
from flyte_jupyter.launch.history import RunList


def add(tmp_path, run_id, **fields):
    now = time.time()
    values = {
        "id": run_id,
        "backend": "local",
        "entity": "square",
        "flyte_name": "nb_analysis.square",
        "kind": "task",
        "project": "flytesnacks",
        "domain": "development",
        "version": "v1",
        "status": "SUCCEEDED",
        "created_at": now,
        "updated_at": now + 1.5,
        "notebook": "/work/proj/analysis.ipynb",
        **fields,
    }
    RunStore(tmp_path / "home" / "runs.sqlite").add(RunRecord(**values))


@pytest.fixture
def stored(ip, tmp_path):
    base = time.time() - 100
    add(tmp_path, "fa1", created_at=base + 1)
    add(tmp_path, "fa2", created_at=base + 2, status="FAILED", error="boom")
    add(
        tmp_path,
        "fb1",
        created_at=base + 3,
        entity="cube",
        flyte_name="nb_other.cube",
        notebook="/work/proj/sub/other.ipynb",
    )
    add(
        tmp_path,
        "fr1",
        created_at=base + 4,
        backend="remote",  # followed with a cluster config this test does not have
        url="https://user:hunter2@console.example.com/console/projects/p/executions/fr1",
    )
    return ip


def ids(found):
    return [run.id for run in found]


@pytest.mark.usefixtures("stored")
def test_runs_are_runs_newest_first_with_filters():
    found = flyte_jupyter.runs()
    assert isinstance(found, RunList)
    assert all(isinstance(run, Run) for run in found)
    assert ids(found) == ["fr1", "fb1", "fa2", "fa1"]
    assert ids(flyte_jupyter.runs(limit=2)) == ["fr1", "fb1"]
    assert ids(flyte_jupyter.runs(status="failed")) == ["fa2"]
    assert ids(flyte_jupyter.runs(entity="cube")) == ["fb1"]
    assert ids(flyte_jupyter.runs(entity="nb_analysis.square")) == ["fr1", "fa2", "fa1"]
    for notebook in (
        "analysis.ipynb",
        "analysis",
        "/work/proj/analysis.ipynb",
        "proj/analysis.ipynb",
    ):
        assert ids(flyte_jupyter.runs(notebook=notebook)) == ["fr1", "fa2", "fa1"], notebook
    assert ids(flyte_jupyter.runs(notebook="sub/other.ipynb", status="SUCCEEDED")) == ["fb1"]
    assert flyte_jupyter.runs(notebook="nope.ipynb") == []


@pytest.mark.usefixtures("stored")
def test_a_remote_run_is_listed_and_read_without_its_cluster():
    run = flyte_jupyter.get_run("fr1")
    assert run.status == "SUCCEEDED"  # ended: the store answers, no cluster is asked
    assert "hunter2" not in repr(flyte_jupyter.runs())
    assert "hunter2" not in flyte_jupyter.runs()._repr_html_()


@pytest.mark.usefixtures("stored")
def test_bad_filters_and_unknown_ids_say_what_to_do():
    with pytest.raises(LaunchError, match="status must be one of QUEUED, RUNNING"):
        flyte_jupyter.runs(status="done")
    with pytest.raises(LaunchError, match="limit must be 1 or more"):
        flyte_jupyter.runs(limit=0)
    with pytest.raises(LaunchError, match=r"No run 'fa3' in the run store .*Did you mean 'fa"):
        flyte_jupyter.get_run("fa3")


@pytest.mark.usefixtures("stored")
def test_the_table_shows_every_run_escaped(tmp_path):
    add(tmp_path, "fx1", entity="<b>x</b>", notebook="/w/<i>n.ipynb")
    found = flyte_jupyter.runs()
    text = repr(found)
    header, first = text.splitlines()[:2]
    assert header.split() == ["id", "entity", "status", "notebook", "started", "took", "version"]
    assert first.split()[:4] == ["fx1", "<b>x</b>", "SUCCEEDED", "<i>n.ipynb"]
    assert "1.5 s" in first
    html = found._repr_html_()
    assert "<b>x</b>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert html.count("<tr>") == 6  # header + 5 runs
    assert repr(flyte_jupyter.runs(entity="none")) == "No runs."


def test_flyte_runs_magic_shows_the_same_table(stored, capsys):
    found = stored.run_line_magic("flyte_runs", "--status failed")
    assert ids(found) == ["fa2"]
    found = stored.run_line_magic("flyte_runs", "--notebook other.ipynb --limit 5")
    assert ids(found) == ["fb1"]
    with pytest.raises(UsageError, match="invalid choice: 'DONE'"):
        stored.run_line_magic("flyte_runs", "--status done")
    assert stored.run_line_magic("flyte_runs", "--help") is None
    assert "--entity ENTITY" in capsys.readouterr().out


@pytest.mark.slow
def test_after_a_restart_runs_come_back_with_their_errors_mapped(ip):
    result = ip.run_cell(
        "from flytekit import task\n\n@task\ndef boom(x: int) -> int:\n"
        "    if x:\n        raise ValueError(f'bad value {x}')\n    return x * x\n",
        store_history=True,
    )
    result.raise_error()
    label = f"cell [{result.execution_count}], line 6, in boom"
    good = ip.run_line_magic("flyte_run", "--wait boom(x=0)")
    bad = ip.run_line_magic("flyte_run", "--wait --no-raise boom(x=3)")
    # a restart: the kernel forgets its runs and entities, the run store does not
    ip.run_line_magic("unload_ext", "flyte_jupyter")
    for name in ("good", "bad", "boom"):
        ip.user_ns.pop(name, None)
    ip.run_line_magic("load_ext", "flyte_jupyter")
    found = run_cell(ip, "import flyte_jupyter\nflyte_jupyter.runs(entity='boom')")
    assert ids(found) == [bad.id, good.id]
    again = flyte_jupyter.get_run(bad.id)
    assert again.status == "FAILED"
    assert label in again.error
    assert "bad value 3" in again.logs()
    assert label in again._repr_html_()
    with pytest.raises(LaunchError, match="bad value 3"):
        _ = again.outputs
    assert flyte_jupyter.get_run(good.id).outputs == {"o0": "0"}  # previews: no entity here


def test_runs_work_from_plain_python_without_a_kernel(tmp_path):
    import json
    import os
    import subprocess
    import sys

    add(tmp_path, "fp1")
    code = (
        "import json, flyte_jupyter\n"
        "runs = flyte_jupyter.runs(status='succeeded')\n"
        "print(json.dumps([[r.id, r.status] for r in runs] + [repr(runs).splitlines()[0]]))\n"
    )
    env = {**os.environ, "FLYTE_JUPYTER_HOME": str(tmp_path / "home")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == [
        ["fp1", "SUCCEEDED"],
        "id   entity  status     notebook        started              took   version",
    ]
