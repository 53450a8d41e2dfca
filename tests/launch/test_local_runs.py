"""%%flyte_run on the embedded local backend, through a real IPython shell and real runs."""

import os
import signal
import time
from pathlib import Path

import pytest
from IPython.core.error import UsageError
from shell_helpers import run_cell

from flyte_jupyter.launch import RunStore

pytestmark = pytest.mark.slow

DEFS = """
from dataclasses import dataclass
from flytekit import task, workflow
import helper

@dataclass
class Point:
    x: int
    y: int

@task
def square(x: int) -> int:
    return helper.double(x) * x

@task
def norm(p: Point) -> float:
    import lazy_math
    return lazy_math.root(p.x * p.x + p.y * p.y)

@workflow
def pipeline(p: Point, k: int = 2) -> float:
    return norm(p=p)
"""


@pytest.fixture
def nb(ip, tmp_path):
    (tmp_path / "helper.py").write_text("def double(v):\n    return 2 * v\n")
    (tmp_path / "lazy_math.py").write_text("import math\n\ndef root(v):\n    return math.sqrt(v)\n")
    run_cell(ip, DEFS, cell_id="defs")
    return ip


def runs(tmp_path):
    return RunStore(tmp_path / "home" / "runs.sqlite").list()


def test_cell_form_runs_the_task_through_flytekits_entrypoint(nb, tmp_path):
    run_cell(nb, "%%flyte_run --wait\nextra = 1\nr = square(x=7)\n", cell_id="run1")
    run = nb.user_ns["r"]
    assert nb.user_ns["extra"] == 1  # the cell's own definitions ran in the notebook
    assert run.status == "SUCCEEDED", run.logs()
    assert run.outputs == 98
    assert run.url == f"/flyte-jupyter/runs/{run.id}"
    assert run.entity == "square"
    assert run.flyte_name == "nb_my_analysis.square"
    record = RunStore(tmp_path / "home" / "runs.sqlite").get(run.id)
    assert [e[1] for e in record.events] == ["QUEUED", "RUNNING", "SUCCEEDED"]
    assert record.outputs == {"o0": "98"}
    assert record.extra["sdk"] == "flytekit"
    assert "pyflyte-execute" in (tmp_path / "home" / "runs" / run.id / "command.json").read_text()


def test_workflow_with_a_notebook_dataclass_and_a_lazy_import(nb):
    run = nb.run_line_magic("flyte_run", "--wait pipeline(p=Point(x=3, y=4))")
    assert run.status == "SUCCEEDED", run.logs()
    assert run.outputs == 5.0


def test_line_form_returns_at_once_and_wait_blocks(nb):
    started = time.monotonic()
    run = nb.run_line_magic("flyte_run", "square(x=3)")
    assert time.monotonic() - started < 30
    assert run.status in ("QUEUED", "RUNNING", "SUCCEEDED")
    assert run.wait(timeout=120).outputs == 18


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%flyte_run square()", "missing x"),
        ("%flyte_run square(x=1, y=2)", "unexpected y"),
        ("%flyte_run square(x='seven')", "input 'x' of square must be int, got str"),
        ("%flyte_run square(7)", "Pass inputs by name"),
        ("%flyte_run helper.double(v=1)", "by its name"),
        ("%flyte_run Point(x=1, y=2)", "is a type, not a Flyte task"),
        ("%flyte_run nothere(x=1)", "'nothere' is not defined"),
        ("%%flyte_run\nx = 1\n", "`x = 1`, is not a call"),
        ("%%flyte_run\nfor i in []: pass\n", "is not a call"),
    ],
)
def test_bad_launches_are_refused_before_anything_is_built(nb, tmp_path, cell, message):
    result = nb.run_cell(cell)
    error = result.error_in_exec or result.error_before_exec
    assert isinstance(error, UsageError), error
    assert message in str(error)
    assert runs(tmp_path) == []
    assert not (tmp_path / "home" / "store").exists()  # nothing was uploaded


def test_a_raising_task_fails_with_its_error_and_logs(nb):
    run_cell(
        nb,
        "@task\ndef boom(x: int) -> int:\n    if x:\n        raise ValueError(f'bad value {x}')\n    return x\n",
    )
    run = nb.run_line_magic("flyte_run", "--wait --no-raise boom(x=4)")
    assert run.status == "FAILED"
    assert "bad value 4" in run.error
    with pytest.raises(Exception, match="bad value 4"):
        _ = run.outputs


def test_a_crashing_process_is_marked_failed_with_its_exit_code(nb):
    run_cell(nb, "@task\ndef crash(x: int) -> int:\n    import os\n    os._exit(3)\n    return x\n")
    run = nb.run_line_magic("flyte_run", "--wait --no-raise crash(x=1)")
    assert run.status == "FAILED"
    told = "The run's process exited with code 3 without writing outputs; see its logs."
    assert run.error == told
    assert told in run.logs()  # the log says it too, after what the task printed


SLEEPER = "@task\ndef sleepy(s: int) -> int:\n    import time\n    time.sleep(s)\n    return s\n"


def wait_for(run, status, timeout=60):
    deadline = time.monotonic() + timeout
    while run.status != status:
        assert time.monotonic() < deadline, f"{run.status} != {status}: {run.logs()}"
        time.sleep(0.1)


def test_cancel_ends_the_whole_process_group(nb):
    run_cell(nb, SLEEPER)
    run = nb.run_line_magic("flyte_run", "sleepy(s=300)")
    wait_for(run, "RUNNING")
    pid = run.record.extra["pid"]
    run.cancel()
    assert run.status == "ABORTED"
    assert live_members(pid) == []


def live_members(pgid):
    """Processes of a process group that are not zombies (zombies wait to be reaped)."""
    out = []
    for stat in os.listdir("/proc"):
        if stat.isdigit():
            try:
                fields = Path(f"/proc/{stat}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(stat))
    return out


def test_a_killed_supervisor_leaves_a_failed_run_not_a_running_one(nb):
    run_cell(nb, SLEEPER)
    run = nb.run_line_magic("flyte_run", "sleepy(s=300)")
    wait_for(run, "RUNNING")
    pid = run.record.extra["pid"]
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while run.status != "FAILED" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert run.status == "FAILED"
    assert "supervisor" in run.error
    assert "was killed" in run.error  # recorded by its watchdog, which outlives the group


def renewed_lease(run, timeout=60):
    """When the run's supervisor had renewed its lease twice (it is up, and had time to start).

    The launcher gives a run its lease; its supervisor renews it when it starts, then every
    HEARTBEAT_EVERY s while it lives, queued or running.
    """
    deadline = time.monotonic() + timeout
    seen = []
    while len(seen) < 3:
        beat = run.record.heartbeat_at
        if not seen or beat != seen[-1]:
            seen.append(beat)
        assert time.monotonic() < deadline, f"lease renewals seen: {seen}; {run.logs()}"
        time.sleep(0.1)
    return seen[-1]


def at(run, status):
    (when,) = [moment for moment, event, _message in run.record.events if event == status]
    return when


def test_parallel_runs_are_limited(nb):
    nb.run_line_magic("config", "FlyteJupyter.max_parallel_runs = 1")
    run_cell(nb, SLEEPER)
    first = nb.run_line_magic("flyte_run", "sleepy(s=300)")
    wait_for(first, "RUNNING")
    second = nb.run_line_magic("flyte_run", "sleepy(s=1)")
    waiting = renewed_lease(second)  # its supervisor was up for a heartbeat: it had its chance
    first.cancel()
    assert second.wait(timeout=120).status == "SUCCEEDED", second.logs()
    # the second started only once the first had ended, though its supervisor was up before
    assert waiting < at(first, "ABORTED") < at(second, "RUNNING")


def test_the_domain_is_visible_inside_the_run(nb):
    run_cell(
        nb,
        "@task\ndef where() -> str:\n    from flyte_jupyter import current_domain\n    return current_domain()\n",
    )
    run = nb.run_line_magic("flyte_run", "--wait --domain staging where()")
    assert run.outputs == "staging", run.logs()


def test_dry_run_serializes_and_launches_nothing(nb, tmp_path):
    dry = nb.run_line_magic("flyte_run", "--dry-run square(x=2)")
    assert [f.kind for f in dry.serialized.files] == ["task"]
    assert dry.bundle.uri.startswith("file://")
    assert runs(tmp_path) == []


@pytest.mark.parametrize("mode", ["exact", "warm"])
def test_an_interrupted_launch_leaves_no_queued_ghost(nb, tmp_path, monkeypatch, mode):
    import subprocess

    from flyte_jupyter.worker.client import Worker

    real = subprocess.Popen

    def interrupted(argv, *args, **kwargs):
        if "flyte_jupyter.launch.supervisor" in argv:
            raise KeyboardInterrupt  # the user pressed Stop just as the run was starting
        return real(argv, *args, **kwargs)

    def interrupted_spawn(*_args, **_kwargs):
        raise KeyboardInterrupt  # ... while the warm worker forked the supervisor

    monkeypatch.setattr(subprocess, "Popen", interrupted)
    monkeypatch.setattr(Worker, "spawn", interrupted_spawn)
    with pytest.raises(KeyboardInterrupt):
        nb.run_line_magic("flyte_run", f"--local-runs {mode} square(x=2)")
    (listed,) = runs(tmp_path)
    record = RunStore(tmp_path / "home" / "runs.sqlite").get(listed.id)
    assert record.status == "FAILED"
    assert "interrupted" in record.events[-1][2]


def test_another_kernel_sees_the_runs(nb, tmp_path):
    run = nb.run_line_magic("flyte_run", "--wait square(x=1)")
    other = RunStore(tmp_path / "home" / "runs.sqlite").get(run.id)
    assert other.status == "SUCCEEDED"
    assert other.notebook.endswith("My Analysis.ipynb")


def test_a_store_object_deleted_behind_the_index_is_uploaded_again(nb):
    first = nb.run_line_magic("flyte_run", "--wait square(x=2)")
    _, uri = first.bundle
    stored = Path(uri.removeprefix("file://"))
    stored.unlink()  # someone cleaned the store; the index still says it is there
    second = nb.run_line_magic("flyte_run", "--wait square(x=3)")
    assert second.status == "SUCCEEDED", second.logs()
    assert second.outputs == 18
    assert stored.exists()


def test_a_launch_with_an_unknown_named_image_is_refused_before_anything_is_built(nb, tmp_path):
    run_cell(
        nb,
        "@task(container_image='{{.image.gpu.fqn}}:{{.image.gpu.version}}')\ndef train(x: int) -> int:\n    return x\n",
    )
    with pytest.raises(UsageError, match="refers to image 'gpu'"):
        nb.run_line_magic("flyte_run", "train(x=1)")
    assert runs(tmp_path) == []
