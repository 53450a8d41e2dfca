"""Local runs in the warm worker: same results as the pod's command, per-run environment,
fallback when the worker is gone, and a worker that never outlives its kernel."""

import json
import logging
import os
import signal
import time
from pathlib import Path

import pytest
from shell_helpers import run_cell

from flyte_jupyter.worker import POOL

pytestmark = pytest.mark.slow

FIDELITY = """
from dataclasses import dataclass
from flytekit import task, workflow
import geometry

@dataclass
class Box:
    w: int
    h: int

@task
def describe(b: Box) -> str:
    import os
    import formatting  # imported lazily: only the run needs it
    return formatting.show(geometry.area(b.w, b.h)) + " in " + os.path.basename(os.getcwd())

@task
def boom(x: int) -> int:
    if x:
        raise ValueError(f"bad value {x}")
    return x

@task
def measure(w: int, h: int) -> str:
    return describe.task_function(b=Box(w=w, h=h))

@workflow
def pipeline(w: int, h: int) -> str:
    return measure(w=w, h=h)
"""

V2 = """
import flyte

env = flyte.TaskEnvironment(name="warm", image="ghcr.io/acme/base:1.0", env_vars={"STAGE": "2"})

@env.task
def stage(x: int) -> str:
    import os
    return f"{x}:{os.environ['STAGE']}:{flyte.current_domain()}"

@env.task
async def fan(n: int) -> list[int]:
    import asyncio
    return list(await asyncio.gather(*(sq(i) for i in range(n))))

@env.task
async def sq(i: int) -> int:
    return i * i
"""


@pytest.fixture
def nb(ip, tmp_path, monkeypatch):
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    (tmp_path / "geometry.py").write_text("def area(w, h):\n    return w * h\n")
    (tmp_path / "formatting.py").write_text("def show(v):\n    return f'area={v}'\n")
    run_cell(ip, FIDELITY, cell_id="defs")
    return ip


def both_ways(ip, call):
    """Run ``call`` exact, then warm; the two runs."""
    exact = ip.run_line_magic("flyte_run", f"--wait --no-raise --local-runs exact {call}")
    warm = ip.run_line_magic("flyte_run", f"--wait --no-raise {call}")  # warm is the default
    assert exact.record.extra["run_mode"] == "exact", exact.record.extra
    assert warm.record.extra["run_mode"] == "warm", warm.record.extra
    return exact, warm


def test_warm_and_exact_runs_of_the_fidelity_bundle_give_the_same_outputs(nb):
    exact, warm = both_ways(nb, "describe(b=Box(w=3, h=5))")
    assert exact.status == warm.status == "SUCCEEDED", warm.logs()
    assert exact.outputs == warm.outputs == "area=15 in work"
    exact, warm = both_ways(nb, "pipeline(w=2, h=4)")
    assert exact.outputs == warm.outputs == "area=8 in work", warm.logs()
    # same bundle, same version: only the way the steps ran differs
    assert exact.record.version == warm.record.version


def test_a_failing_task_fails_the_same_way_warm_and_exact(nb):
    exact, warm = both_ways(nb, "boom(x=3)")
    assert exact.status == warm.status == "FAILED"
    assert "bad value 3" in exact.error
    assert "bad value 3" in warm.error
    assert "ValueError" in warm.logs()


def test_warm_and_exact_v2_runs_give_the_same_outputs(ip, monkeypatch):
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    run_cell(ip, V2, cell_id="v2")
    exact, warm = both_ways(ip, "--domain staging stage(x=4)")
    assert exact.outputs == warm.outputs == "4:2:staging", warm.logs()
    exact, warm = both_ways(ip, "fan(n=4)")  # tasks calling tasks: flyte's local mode
    assert exact.outputs == warm.outputs == [0, 1, 4, 9], warm.logs()


def test_a_warm_run_reads_its_inputs_from_s3_with_the_runs_own_credentials(
    nb, monkeypatch, s3_bucket
):
    """The S3 endpoint and keys of a run come from its settings, not from the worker's start."""
    import boto3

    endpoint, bucket = s3_bucket
    boto3.client("s3", endpoint_url=endpoint).put_object(
        Bucket=bucket, Key="in/data.txt", Body=b"hello from s3"
    )
    monkeypatch.setenv("FLYTE_JUPYTER_STORE", f"s3://{bucket}/nb")
    options = {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}
    monkeypatch.setenv("FLYTE_JUPYTER_STORAGE_OPTIONS", json.dumps(options))
    run_cell(
        nb,
        "from flytekit.types.file import FlyteFile\n\n"
        "@task\ndef read(f: FlyteFile) -> str:\n    return open(f).read()\n",
        cell_id="read",
    )
    exact, warm = both_ways(nb, f"read(f='s3://{bucket}/in/data.txt')")
    assert exact.outputs == warm.outputs == "hello from s3", warm.logs()


def test_a_worker_killed_between_jobs_is_replaced_with_a_log_line(nb, caplog):
    first = nb.run_line_magic("flyte_run", "--wait describe(b=Box(w=1, h=1))")
    assert first.record.extra["run_mode"] == "warm"
    worker = POOL._worker
    os.kill(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait()
    run_cell(nb, "@task\ndef again(x: int) -> int:\n    return x + 1\n", cell_id="again")
    with caplog.at_level(logging.WARNING, logger="flyte_jupyter.worker.client"):
        run = nb.run_line_magic("flyte_run", "--wait again(x=1)")
    assert run.status == "SUCCEEDED", run.logs()
    assert run.outputs == 2
    assert run.record.extra["run_mode"] == "warm"
    assert "the warm worker had stopped (killed by signal 9)" in caplog.text
    assert POOL._worker.proc.pid != worker.proc.pid


def test_a_worker_that_dies_during_a_job_falls_back_to_the_cold_path(nb, monkeypatch, caplog):
    from flyte_jupyter.worker.client import Worker

    send = Worker._send

    def dying(self, op, *args):
        if op == "spawn":  # the worker dies as the run's supervisor is asked for
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        return send(self, op, *args)

    monkeypatch.setattr(Worker, "_send", dying)
    with caplog.at_level(logging.WARNING, logger="flyte_jupyter.worker.client"):
        run = nb.run_line_magic("flyte_run", "--wait describe(b=Box(w=2, h=3))")
    assert run.status == "SUCCEEDED", run.logs()
    assert run.outputs == "area=6 in work"
    assert run.record.extra["run_mode"] == "exact"
    assert "warm worker was not available" in run.record.extra["run_mode_note"]
    assert "the warm worker stopped" in caplog.text
    assert "runs in a fresh interpreter" in caplog.text


def test_a_run_falls_back_when_the_worker_cannot_start(nb, monkeypatch, caplog):
    from flyte_jupyter.worker import client

    def broken(*_args, **_kwargs):
        raise OSError("no such interpreter")

    monkeypatch.setattr(client.Worker, "__init__", broken)
    with caplog.at_level(logging.WARNING, logger="flyte_jupyter.worker.client"):
        run = nb.run_line_magic("flyte_run", "--wait describe(b=Box(w=2, h=2))")
    assert run.status == "SUCCEEDED", run.logs()
    assert run.outputs == "area=4 in work"
    assert run.record.extra["run_mode"] == "exact"
    assert "the warm worker did not start (no such interpreter)" in caplog.text


def test_the_worker_is_replaced_when_the_settings_env_changes(nb):
    nb.run_line_magic("flyte_run", "--wait describe(b=Box(w=1, h=2))")
    first = POOL._worker.proc.pid
    nb.run_line_magic("flyte_run", "--wait describe(b=Box(w=1, h=3))")
    assert POOL._worker.proc.pid == first  # same environment: the same worker
    nb.run_line_magic("config", "FlyteJupyter.env = {'STAGE': 'blue'}")
    run_cell(nb, "@task\ndef stage() -> str:\n    import os\n    return os.environ['STAGE']\n")
    run = nb.run_line_magic("flyte_run", "--wait stage()")
    assert run.outputs == "blue", run.logs()
    assert run.record.extra["run_mode"] == "warm"
    assert POOL._worker.proc.pid != first
    assert not _alive(first)  # the old one ended: never two left running


def test_the_worker_is_replaced_after_an_install(tmp_path):
    from flyte_jupyter.worker.client import Worker

    site = tmp_path / "site-packages"
    site.mkdir()
    worker = Worker(dict(os.environ), tmp_path / "worker.log")
    try:
        worker.ready()
        assert worker.current(os.environ)
        worker.path = [str(site)]  # as if the worker imported from this folder
        worker._site = {str(site): site.stat().st_mtime_ns}
        assert worker.current(os.environ)
        time.sleep(0.01)
        (site / "newpkg-1.0.dist-info").mkdir()  # what pip install does to the folder
        assert not worker.current(os.environ)
        assert not worker.current({**os.environ, "OTHER": "1"})
    finally:
        worker.close()
    assert worker.proc.poll() is not None


def test_jobs_see_their_own_environment_and_none_of_the_kernels_memory(tmp_path):
    POOL.enable(tmp_path / "worker.log")
    base = dict(os.environ)
    seen = [
        POOL.call(
            "flyte_jupyter.worker.server:describe",
            {"variables": ["RUN_VALUE"], "modules": ["flytekit", "flyte", "pytest", "IPython"]},
            env={**base, "RUN_VALUE": str(i)},
            base_env=base,
            cwd=tmp_path,
            timeout=60,
        ).result
        for i in range(2)
    ]
    assert [s["env"]["RUN_VALUE"] for s in seen] == ["0", "1"]
    assert seen[0]["pid"] != seen[1]["pid"]  # a new child per job
    assert seen[0]["cwd"] == str(tmp_path)
    # the SDKs are imported once in the worker; the test's (the kernel's) modules are not there
    assert "flytekit" in seen[0]["imported"]
    assert "pytest" not in seen[0]["imported"]
    assert "IPython" not in seen[0]["imported"]
    # python -I: neither the job's folder nor the kernel's current folder is on the path
    assert str(tmp_path) not in seen[0]["path"]
    assert "" not in seen[0]["path"]


def test_a_job_that_runs_too_long_is_killed_and_the_worker_goes_on(tmp_path):
    POOL.enable(tmp_path / "worker.log")
    env = dict(os.environ)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        POOL.call("time:sleep", 60, env=env, base_env=env, cwd=tmp_path, timeout=1.0)
    assert time.monotonic() - started < 30
    again = POOL.call(
        "flyte_jupyter.worker.server:describe", {}, env=env, base_env=env, cwd=tmp_path, timeout=60
    )
    assert again is not None
    assert again.result["cwd"] == str(tmp_path)


def _alive(pid):
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
