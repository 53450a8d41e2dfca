"""Local runs whose supervisor is killed, crashes or is out of reach: real processes only."""

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from shell_helpers import run_cell

from flyte_jupyter.launch import RunStore, liveness

pytestmark = pytest.mark.slow

TASKS = """
from flytekit import task

@task
def sleepy(s: int) -> int:
    import time
    time.sleep(s)
    return s

@task
def segfault(x: int) -> int:
    import ctypes
    ctypes.string_at(0)
    return x
"""


@pytest.fixture(params=["exact", "warm"])
def nb(ip, tmp_path, request):
    """The notebook, its local runs started the way of the parameter (``local_runs``)."""
    ip.run_line_magic("config", f"FlyteJupyter.local_runs = {request.param!r}")
    run_cell(ip, TASKS, cell_id="tasks")
    yield ip
    # a failed test must not leave a 300 s task behind
    for record in RunStore(tmp_path / "home" / "runs.sqlite").list():
        pid = record.extra.get("pid")
        if pid and not record.done and liveness.visible(record.extra):
            os.killpg(pid, signal.SIGKILL)


def wait_until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what()
        time.sleep(0.1)


def group_members(pgid):
    """Live (not zombie) processes of a process group."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                out.append(int(entry))
    return out


def task_started(run):
    """True once the task runs: pyflyte-execute's interpreter, or the warm supervisor's child."""
    extra = run.record.extra
    members = group_members(extra["pid"])
    if extra.get("run_mode") == "warm":
        return extra.get("child_pid") in members
    return any(arg.endswith(b"/pyflyte-execute") for pid in members for arg in _argv(pid)[:2])


def _argv(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def watchdog_of(supervisor):
    """The supervisor's watchdog: its forked child, out of the run's process group."""
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != supervisor:
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            in_group = int(entry) in group_members(supervisor)
            if ppid == supervisor and _argv(int(entry)) == _argv(supervisor) and not in_group:
                return int(entry)
    raise AssertionError(f"no watchdog under {supervisor}")


def start_sleepy(nb):
    run = nb.run_line_magic("flyte_run", "sleepy(s=300)")
    wait_until(lambda: task_started(run), 90, lambda: f"{run.status}: {run.logs()}")
    return run


def test_kill_9_of_the_supervisor_stops_the_task_and_records_why(nb):
    run = start_sleepy(nb)
    supervisor = run.record.extra["pid"]
    task = [p for p in group_members(supervisor) if p != supervisor]
    assert task, "the task runs in the supervisor's process group"
    os.kill(supervisor, signal.SIGKILL)  # the supervisor alone, not its group
    wait_until(lambda: not group_members(supervisor), 5, lambda: group_members(supervisor))
    wait_until(lambda: run.status == "FAILED", 5, lambda: run.status)
    assert f"supervisor (pid {supervisor}) was killed" in run.error
    assert "task processes were stopped" in run.error
    assert "was killed" in run.logs()
    assert run.cancel().status == "FAILED"  # nothing left to stop; the record stays true


def test_a_run_whose_processes_all_died_is_failed_by_its_kernel(nb, monkeypatch):
    monkeypatch.setattr(liveness, "LEASE", 2.0)  # the lease expires soon after the kill
    run = start_sleepy(nb)
    pgid = run.record.extra["pid"]
    # what a machine restart or the OOM killer does: no process of the run records anything
    os.kill(watchdog_of(pgid), signal.SIGKILL)
    os.killpg(pgid, signal.SIGKILL)
    wait_until(lambda: run.status == "FAILED", 20, lambda: run.status)
    assert f"supervisor (pid {pgid}) was killed, or its machine restarted" in run.error


def test_a_supervisor_out_of_reach_stops_the_run_on_a_cancel_request(nb):
    run = start_sleepy(nb)
    pgid = run.record.extra["pid"]
    ended = asyncio.run(_ended_pid())
    # what the record looks like to a kernel in another container: a pid it cannot see
    RunStore(Path(run.record.run_dir).parent.parent / "runs.sqlite").update(
        run.id, extra={"pid": ended, "started": "1", "host": "another-container"}
    )
    assert run.cancel().status == "ABORTED"
    assert [e[2] for e in run.record.events][-1] == "cancelled"  # written by the supervisor
    wait_until(lambda: not group_members(pgid), 10, lambda: group_members(pgid))


async def _ended_pid():
    proc = await asyncio.create_subprocess_exec("true")
    await proc.wait()
    return proc.pid


def test_a_segfault_is_named_in_the_error_and_the_log(nb):
    run = nb.run_line_magic("flyte_run", "--wait --no-raise segfault(x=1)")
    assert run.status == "FAILED"
    assert "killed by SIGSEGV (segmentation fault)" in run.error
    assert "exit code" not in run.error.split("SIGSEGV")[0]
    log = run.logs()
    assert "killed by SIGSEGV (segmentation fault)" in log
    assert "Fatal Python error: Segmentation fault" in log  # the task's own traceback
