"""The warm worker in a real kernel: nothing at %load_ext, started by the first job, gone
with the kernel (shut down or killed), while a run it started goes on to its end."""

import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TASKS = (
    "from flytekit import task\n\n"
    "@task\ndef inc(x: int) -> int:\n    return x + 1\n\n"
    "@task\ndef slow(s: float) -> float:\n    import time\n    time.sleep(s)\n    return s\n"
)
WORKER_PID = "print('WORKER', __import__('flyte_jupyter.worker').worker.POOL._worker.proc.pid)"
NO_WORKER = "print('WORKER', __import__('flyte_jupyter.worker').worker.POOL._worker)"


def _execute(client, code):
    """Run ``code``; its stdout (the cell must succeed)."""
    lines = []

    def keep(msg):
        if msg["msg_type"] == "stream":
            lines.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            lines.append("\n".join(msg["content"]["traceback"]))

    reply = client.execute_interactive(code, timeout=120, output_hook=keep)
    assert reply["content"]["status"] == "ok", "".join(lines)
    return "".join(lines)


def _alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while _alive(pid):
        assert time.monotonic() < deadline, f"process {pid} outlived its kernel"
        time.sleep(0.05)


@pytest.mark.parametrize("how", ["shutdown", "kill -9"])
def test_the_worker_ends_with_its_kernel_and_its_run_goes_on(kit, tmp_path, how):
    from jupyter_client.manager import start_new_kernel

    from flyte_jupyter.launch import RunStore

    notebook = tmp_path / "project" / "loop.ipynb"
    notebook.parent.mkdir()
    env = kit.kernel_env(tmp_path / "home", notebook)
    km, kc = start_new_kernel(kernel_name="python3", env=env, cwd=str(notebook.parent))
    try:
        _execute(kc, "%load_ext flyte_jupyter")
        assert _execute(kc, NO_WORKER).split() == ["WORKER", "None"]  # nothing at load
        _execute(kc, TASKS)
        out = _execute(kc, "r = %flyte_run --wait inc(x=1)\nprint('OUT', r.outputs)")
        assert "OUT 2" in out
        worker = int(_execute(kc, WORKER_PID).split()[1])
        assert _alive(worker)
        out = _execute(
            kc, "s = %flyte_run slow(s=3.0)\nprint('RUN', s.id, s.record.extra['run_mode'])"
        )
        _, run_id, mode = out.split()
        assert mode == "warm"
    finally:
        kc.stop_channels()
        if how == "shutdown":
            km.shutdown_kernel(now=False)
        else:
            km.shutdown_kernel(now=True)  # SIGKILL: the kernel has no say
    _wait_gone(worker)
    # the run was forked from the worker in its own session: it outlives both
    store = RunStore(tmp_path / "home" / "runs.sqlite")
    deadline = time.monotonic() + 30
    while not store.get(run_id).done:
        assert time.monotonic() < deadline, store.get(run_id)
        time.sleep(0.1)
    assert store.get(run_id).status == "SUCCEEDED"
