"""The v2 stand-in (``standin_v2.StandinFlyteV2``) answers flyte's REAL client over the wire.

Each client runs in a fresh ``python -I`` subprocess (``flyte`` sets global state and
``sys.excepthook`` on import), with a temporary HOME so no flyte config of the machine is read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
from connectrpc.code import Code
from standin_v2 import ABORTED, FAILED, RUNNING, SUCCEEDED, StandinFlyteV2

pytestmark = pytest.mark.slow

PROJECT = "proj"
DOMAIN = "development"

TASKS = """\
import os

import flyte

env = flyte.TaskEnvironment(name="sq", image="python:3.11", env_vars={"FROM_SPEC": "spec"})


@env.task
def nap(seconds: int) -> int:
    import time

    time.sleep(seconds)
    return seconds


@env.task
def probe() -> str:
    keys = ("FROM_STANDIN", "FROM_SPEC", "DO_NOT_TRACK", "LEAKED")
    return ",".join(os.environ.get(key, "-") for key in keys)


@env.task
def square(x: int) -> int:
    return x * x


@env.task
def boom(x: int) -> int:
    raise ValueError(f"boom {x}")
"""

# Common head of every client script: flyte's real client against the stand-in.
HEAD = """\
import json, pathlib, sys
root = pathlib.Path(sys.argv[2])
sys.path.insert(0, str(root))
import flyte
flyte.init(endpoint=sys.argv[1], insecure=True, project={project!r}, domain={domain!r},
           org="acme", root_dir=root)
import tasks
out = {{}}
"""
TAIL = """
print("RESULT " + json.dumps(out), flush=True)
"""


@pytest.fixture
def standin(tmp_path):
    server = StandinFlyteV2(tmp_path / "standin").start()
    yield server
    server.stop()
    assert server.wait_idle(timeout=10)


def _client(standin, tmp_path, body: str) -> list[str]:
    """Argv and env of a client script running ``body`` after flyte.init."""
    root = tmp_path / "proj"
    root.mkdir(exist_ok=True)
    (root / "tasks.py").write_text(TASKS)
    script = tmp_path / "client.py"
    script.write_text(HEAD.format(project=PROJECT, domain=DOMAIN) + textwrap.dedent(body) + TAIL)
    return [sys.executable, "-I", str(script), standin.endpoint, str(root)]


def _env(tmp_path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "DO_NOT_TRACK": "1"}


def _result(stdout: str, stderr: str) -> dict:
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line.removeprefix("RESULT "))
    raise AssertionError(f"client gave no result:\n{stdout}\n{stderr}")


def _run_client(standin, tmp_path, body: str) -> dict:
    done = subprocess.run(
        _client(standin, tmp_path, body),
        env=_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return _result(done.stdout, done.stderr)


def test_flyte_run_runs_the_task_with_a0_and_returns_its_outputs(standin, tmp_path):
    out = _run_client(
        standin,
        tmp_path,
        """
        run = flyte.run(tasks.square, x=7)
        run.wait()
        out["name"] = run.name
        out["phase"] = str(run.phase)
        out["o0"] = run.outputs()[0]
        out["url"] = run.url
        """,
    )
    assert out["o0"] == 49
    assert out["phase"].endswith("SUCCEEDED")
    assert out["url"].startswith(f"http://127.0.0.1:{standin.port}/v2/domain/{DOMAIN}")
    methods = standin.methods()
    for method in (
        "SelectCluster",
        "CreateUploadLocation",
        "UploadInputs",
        "CreateRun",
        "WatchActionDetails",
        "GetActionData",
    ):
        assert method in methods
    create = standin.requests("CreateRun")[0]
    assert create.WhichOneof("task") == "task_spec"
    assert create.WhichOneof("input_wrapper") == "offloaded_input_data"
    assert create.WhichOneof("id") == "project_id"  # the server names the run
    assert create.project_id.name == PROJECT
    assert [p.name.endswith(".tar.gz") for p in standin.uploads] == [True]
    run = standin.run(out["name"])
    assert run.phase == SUCCEEDED
    assert run.process is not None
    assert run.process.args[0].endswith("a0")
    assert "--org" in run.process.args


def test_a0_gets_the_standin_env_and_the_spec_env_only(tmp_path, monkeypatch):
    monkeypatch.setenv("LEAKED", "yes")
    server = StandinFlyteV2(tmp_path / "standin", env={"FROM_STANDIN": "standin"}).start()
    try:
        out = _run_client(
            server,
            tmp_path,
            """
            run = flyte.run(tasks.probe)
            run.wait()
            out["o0"] = run.outputs()[0]
            """,
        )
    finally:
        server.stop()
    assert out["o0"] == "standin,spec,1,-"


def test_a_failing_task_ends_failed_with_its_error_message(standin, tmp_path):
    out = _run_client(
        standin,
        tmp_path,
        """
        run = flyte.run(tasks.boom, x=3)
        run.wait()
        out["name"] = run.name
        out["phase"] = str(run.phase)
        out["error"] = run.details().pb2.action.error_info.message
        """,
    )
    assert out["phase"].endswith("FAILED")
    assert "boom 3" in out["error"]
    assert standin.run(out["name"]).phase == FAILED


def test_abort_of_a_held_run_ends_it_aborted_with_the_reason(standin, tmp_path):
    standin.hold()
    out = _run_client(
        standin,
        tmp_path,
        """
        run = flyte.run(tasks.square, x=2)
        run.wait(wait_for="running")
        out["running"] = str(run.phase)
        run.abort(reason="stop it")
        run.wait()
        out["name"] = run.name
        out["phase"] = str(run.phase)
        out["reason"] = run.details().pb2.action.abort_info.reason
        """,
    )
    assert out["running"].endswith("RUNNING")
    assert out["phase"].endswith("ABORTED")
    assert out["reason"] == "stop it"
    run = standin.run(out["name"])
    assert run.phase == ABORTED
    assert run.process is None  # held: a0 never started
    assert standin.requests("AbortRun")[0].reason == "stop it"


def test_abort_of_a_running_a0_kills_it(standin, tmp_path):
    out = _run_client(
        standin,
        tmp_path,
        """
        import time
        run = flyte.run(tasks.nap, seconds=60)
        run.wait(wait_for="running")
        time.sleep(1)
        run.abort(reason="too slow")
        run.wait()
        out["name"] = run.name
        out["phase"] = str(run.phase)
        run.abort()  # a no-op once ended
        """,
    )
    assert out["phase"].endswith("ABORTED")
    assert standin.wait_idle(timeout=10)
    run = standin.run(out["name"])
    assert run.phase == ABORTED
    assert run.abort_reason == "too slow"
    assert run.process is not None
    assert run.process.returncode == -9
    assert len(standin.requests("AbortRun")) == 2


def test_a_run_name_that_exists_is_refused(standin, tmp_path):
    out = _run_client(
        standin,
        tmp_path,
        """
        flyte.with_runcontext(name="fixed").run(tasks.square, x=1).wait()
        try:
            flyte.with_runcontext(name="fixed").run(tasks.square, x=2)
        except Exception as exc:
            out["error"] = str(exc)
        """,
    )
    assert "already exists" in out["error"]
    assert [r.run_id.name for r in standin.requests("CreateRun")] == ["fixed", "fixed"]


def test_deploy_twice_is_already_exists_and_a_deployed_task_runs_by_id(standin, tmp_path):
    out = _run_client(
        standin,
        tmp_path,
        """
        import asyncio
        from connectrpc.errors import ConnectError
        from flyte._initialize import get_client
        from flyteidl2.task import task_service_pb2

        flyte.deploy(tasks.env, version="v1")
        flyte.deploy(tasks.env, version="v1")  # flyte treats ALREADY_EXISTS as deployed
        client = get_client().task_service
        task_id = None

        async def again(change):
            global task_id
            req = task_service_pb2.DeployTaskRequest()
            details = await client.get_task_details(
                task_service_pb2.GetTaskDetailsRequest(task_id=task_id)
            )
            req.task_id.CopyFrom(task_id)
            req.spec.CopyFrom(details.details.spec)
            if change:
                req.spec.short_name = "changed"
            try:
                await client.deploy_task(req)
            except ConnectError as exc:
                return [exc.code.name, exc.message]
            return ["OK", ""]

        lazy = flyte.remote.Task.get("sq.square", project={project!r}, domain={domain!r},
                                     version="v1")
        task = lazy.fetch()
        task_id = task.pb2.task_id
        out["same"] = asyncio.run(again(False))
        out["different"] = asyncio.run(again(True))
        run = flyte.run(lazy, x=5)
        run.wait()
        out["o0"] = run.outputs()[0]
        """.replace("{project!r}", repr(PROJECT)).replace("{domain!r}", repr(DOMAIN)),
    )
    deploys = standin.requests("DeployTask")
    assert len(deploys) >= 4
    assert out["same"][0] == Code.ALREADY_EXISTS.name
    assert "identical" in out["same"][1]
    assert out["different"][0] == Code.ALREADY_EXISTS.name
    assert "DIFFERENT" in out["different"][1]
    assert out["o0"] == 25
    create = standin.requests("CreateRun")[-1]
    assert create.WhichOneof("task") == "task_id"
    assert create.task_id.version == "v1"


def test_stop_and_start_on_the_same_port_keeps_state_and_the_watch_resumes(standin, tmp_path):
    standin.hold()
    port = standin.port
    client = subprocess.Popen(
        _client(
            standin,
            tmp_path,
            """
            run = flyte.run(tasks.square, x=9)
            print("NAME " + run.name, flush=True)
            run.wait()
            out["phase"] = str(run.phase)
            out["o0"] = run.outputs()[0]
            """,
        ),
        env=_env(tmp_path),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert client.stdout is not None
        line = client.stdout.readline()
        assert line.startswith("NAME "), line + client.stderr.read()
        name = line.split()[1]
        assert standin.wait_phase(name, [RUNNING]) == RUNNING
        time.sleep(0.5)  # the client is in its watch
        standin.stop(kill_runs=False)
        time.sleep(1.5)
        standin.start()
        assert standin.port == port
        assert standin.run(name).phase == RUNNING  # state kept
        standin.release()
        stdout, stderr = client.communicate(timeout=120)
    finally:
        if client.poll() is None:
            client.kill()
            client.communicate()
    assert client.returncode == 0, stdout + stderr
    out = _result(stdout, stderr)
    assert out["o0"] == 81
    assert out["phase"].endswith("SUCCEEDED")
    assert len(standin.requests("WatchActionDetails")) >= 2  # re-subscribed after the stop


def test_faults_reset_and_unimplemented(standin, tmp_path):
    standin.fail("CreateRun", Code.RESOURCE_EXHAUSTED, "quota", times=1)
    out = _run_client(
        standin,
        tmp_path,
        """
        try:
            flyte.run(tasks.square, x=1)
        except Exception as exc:
            out["error"] = str(exc)
        run = flyte.run(tasks.square, x=4)
        run.wait()
        out["o0"] = run.outputs()[0]
        try:
            flyte.remote.Run.listall().__next__()
        except Exception as exc:
            out["list"] = [str(getattr(exc, "code", "")), str(exc)]
        """,
    )
    assert "quota" in out["error"]
    assert out["o0"] == 16
    assert "ListRuns" in standin.methods()
    assert out["list"] == ["Code.UNIMPLEMENTED", "Not implemented"]
    standin.reset()
    assert standin.calls == []
    assert standin.runs == {}
