"""%%flyte_run of flyte v2 tasks on the embedded local backend: the stock ``a0`` entrypoint
runs the serialized command of the bundle, in a real IPython shell."""

import json
import time

import pytest
from IPython.core.error import UsageError
from shell_helpers import run_cell

from flyte_jupyter.launch import RunStore

pytestmark = pytest.mark.slow

DEFS = """
import flyte
import helper

env = flyte.TaskEnvironment(
    name="demo", image="ghcr.io/acme/base:1.0", env_vars={"STAGE": "two"}
)

@env.task
def square(x: int) -> int:
    return helper.double(x) * x // 2

@env.task
def scaled(x: int, factor: float = 1.5) -> float:
    return x * factor

@env.task
def stage() -> str:
    import os
    return os.environ["STAGE"]

@env.task
def boom(x: int) -> int:
    if x:
        raise ValueError(f"bad value {x}")
    return x
"""


@pytest.fixture
def nb(ip, tmp_path, monkeypatch):
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    (tmp_path / "helper.py").write_text("def double(v):\n    return 2 * v\n")
    run_cell(ip, DEFS, cell_id="defs")
    return ip


def runs(tmp_path):
    return RunStore(tmp_path / "home" / "runs.sqlite").list()


def test_a_v2_task_runs_through_a0_and_its_outputs_come_back(nb, tmp_path):
    started = time.monotonic()
    run_cell(nb, "%%flyte_run --wait\nr = square(x=7)\n", cell_id="run1")
    elapsed = time.monotonic() - started
    run = nb.user_ns["r"]
    assert run.status == "SUCCEEDED", run.logs()
    assert run.outputs == 49
    assert run.flyte_name == "demo.square"
    record = RunStore(tmp_path / "home" / "runs.sqlite").get(run.id)
    assert [e[1] for e in record.events] == ["QUEUED", "RUNNING", "SUCCEEDED"]
    assert record.outputs == {"o0": "49"}
    assert record.sdk == "flyte"  # kept through the supervisor's updates, for lists and pages
    command = json.loads((tmp_path / "home" / "runs" / run.id / "command.json").read_text())
    assert command["sdk"] == "flyte"
    assert command["image"] == "ghcr.io/acme/base:1.0"
    assert command["argv"][0].endswith("a0")
    assert command["argv"][-4:] == ["mod", "nb_my_analysis", "instance", "square"]
    assert command["env"]["STAGE"] == "two"  # the TaskSpec's container env
    assert command["env"]["DO_NOT_TRACK"] == "1"  # flyte's telemetry: off in what we start
    print(f"trivial v2 task end to end: {elapsed:.2f} s")  # noqa: T201 - measured for the report


def test_flytes_telemetry_is_off_in_runs_unless_the_user_turns_it_on(nb, tmp_path):
    session = nb.magics_manager.registry["FlyteMagics"].session
    session.environ.pop("DO_NOT_TRACK", None)  # the kernel started without a word about it

    def run_env(line):
        run = nb.run_line_magic("flyte_run", f"--wait {line}")
        assert run.status == "SUCCEEDED", run.logs()
        command = json.loads((tmp_path / "home" / "runs" / run.id / "command.json").read_text())
        return command["env"]

    assert run_env("stage()")["DO_NOT_TRACK"] == "1"
    assert run_env("--env DO_NOT_TRACK=0 stage()")["DO_NOT_TRACK"] == "0"  # the user's choice


def test_defaults_and_the_environments_variables_reach_the_task(nb):
    assert nb.run_line_magic("flyte_run", "--wait scaled(x=2)").outputs == 3.0
    run = nb.run_line_magic("flyte_run", "--wait stage()")
    assert run.outputs == "two", run.logs()  # TaskEnvironment(env_vars=...): a0 never sets it


def test_a_raising_v2_task_fails_with_its_error_text(nb):
    run = nb.run_line_magic("flyte_run", "--wait --no-raise boom(x=4)")
    assert run.status == "FAILED"
    assert "bad value 4" in run.error
    with pytest.raises(Exception, match="bad value 4"):
        _ = run.outputs


def test_a_mistyped_input_is_refused_before_anything_is_built(nb, tmp_path):
    # flytekit would take 30 for a float; v2's type engine refuses it in the task
    with pytest.raises(UsageError, match=r"input 'factor' of scaled must be float, got int 30"):
        nb.run_line_magic("flyte_run", "scaled(x=1, factor=30)")
    assert runs(tmp_path) == []
    assert not (tmp_path / "home" / "store").exists()  # nothing was uploaded
    assert not list((tmp_path / "home").glob("cache/bundles/*.tar.gz"))  # nor built


def test_a_v2_task_whose_image_ref_is_missing_is_refused_before_anything_is_built(nb, tmp_path):
    run_cell(
        nb,
        'gpu = flyte.TaskEnvironment(name="gpu", image=flyte.Image.from_ref_name("gpu"))\n'
        "@gpu.task\ndef train(x: int) -> int:\n    return x\n",
    )
    with pytest.raises(UsageError, match=r"task 'train' \(gpu.train\) uses the image ref 'gpu'"):
        nb.run_line_magic("flyte_run", "train(x=1)")
    assert runs(tmp_path) == []
    assert not list((tmp_path / "home").glob("cache/bundles/*.tar.gz"))


def test_a_named_ref_alone_runs_a_v2_task_but_a_flytekit_task_needs_a_default_image(nb, tmp_path):
    run_cell(
        nb,
        'gpu = flyte.TaskEnvironment(name="gpu", image=flyte.Image.from_ref_name("gpu"))\n'
        "@gpu.task\ndef train(x: int) -> int:\n    return x + 1\n\n"
        "from flytekit import task\n\n@task\ndef kit(x: int) -> int:\n    return x\n",
    )
    run = nb.run_line_magic("flyte_run", "--wait --image gpu=ghcr.io/acme/gpu:2 train(x=1)")
    assert run.status == "SUCCEEDED", run.logs()
    assert run.outputs == 2
    # flytekit tasks without container_image would silently get its stock image: refused
    with pytest.raises(UsageError, match=r"named images \(gpu, from option --image\).*no default"):
        nb.run_line_magic("flyte_run", "--image gpu=ghcr.io/acme/gpu:2 kit(x=1)")
    assert [r.entity for r in runs(tmp_path)] == ["train"]


def test_a_v2_task_runs_from_a_bundle_in_an_s3_store(ip, tmp_path, monkeypatch, s3_bucket):
    endpoint, bucket = s3_bucket
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setenv("FLYTE_JUPYTER_STORE", f"s3://{bucket}/nb")
    options = {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}
    monkeypatch.setenv("FLYTE_JUPYTER_STORAGE_OPTIONS", json.dumps(options))
    (tmp_path / "helper.py").write_text("def double(v):\n    return 2 * v\n")
    run_cell(ip, DEFS, cell_id="defs")
    run = ip.run_line_magic("flyte_run", "--wait square(x=5)")
    assert run.status == "SUCCEEDED", run.logs()
    assert run.outputs == 25
    command = json.loads((tmp_path / "home" / "runs" / run.id / "command.json").read_text())
    tgz = command["argv"][command["argv"].index("--tgz") + 1]
    assert tgz.startswith(f"s3://{bucket}/nb/")
    # a task calling tasks, in flyte's local mode, reads the same checked copy of the bundle
    run_cell(ip, FAN_OUT, cell_id="fan")
    fan = ip.run_line_magic("flyte_run", "--wait fan(n=3)")
    assert fan.status == "SUCCEEDED", fan.logs()
    assert fan.outputs == [0, 1, 4]
    command = json.loads((tmp_path / "home" / "runs" / fan.id / "command.json").read_text())
    assert command["argv"][command["argv"].index("--tgz") + 1].startswith(f"s3://{bucket}/nb/")


def test_a_v2_task_on_an_unconfigured_remote_backend_says_how_before_anything_is_built(
    nb, tmp_path, monkeypatch
):
    for name in ("FLYTECTL_CONFIG", "FLYTE_JUPYTER_ENDPOINT", "FLYTE_PLATFORM_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(
        UsageError, match=r"flyte v2 task on the remote backend needs a Flyte endpoint"
    ) as info:
        nb.run_line_magic("flyte_run", "--backend remote square(x=1)")
    assert "admin.endpoint" in str(info.value)
    assert "FLYTE_JUPYTER_ENDPOINT" in str(info.value)
    assert runs(tmp_path) == []
    assert not list((tmp_path / "home").glob("cache/bundles/*.tar.gz"))


def test_a_dry_run_of_a_v2_task_shows_its_spec_and_launches_nothing(nb, tmp_path):
    dry = nb.run_line_magic("flyte_run", "--dry-run square(x=2)")
    assert [(f.kind, f.name, f.sdk) for f in dry.serialized.files] == [
        ("task", "demo.square", "flyte")
    ]
    assert dry.serialized.container_args("square")[0] == "a0"
    assert runs(tmp_path) == []


FAN_OUT = """
import asyncio

@env.task
async def sq(x: int) -> int:
    if x == 13:
        raise ValueError(f"unlucky {x}")
    return helper.double(x) * x // 2

@env.task
async def fan(n: int, start: int = 0) -> list[int]:
    return list(await asyncio.gather(*[sq(x=i) for i in range(start, start + n)]))

@env.task
def total(n: int) -> int:
    return sum(square(x=i) for i in range(n))
"""


def test_a_v2_task_fanning_out_to_other_tasks_runs_in_flytes_local_mode(nb, tmp_path):
    run_cell(nb, FAN_OUT, cell_id="fan")
    started = time.monotonic()
    run = nb.run_line_magic("flyte_run", "--wait fan(n=5)")
    elapsed = time.monotonic() - started
    assert run.status == "SUCCEEDED", run.logs()
    assert run.outputs == [0, 1, 4, 9, 16]
    record = RunStore(tmp_path / "home" / "runs.sqlite").get(run.id)
    running = [e[2] for e in record.events if e[1] == "RUNNING"]
    assert running == ["started in flyte's local mode (the task calls other tasks: sq)"]
    assert "running demo.fan in flyte's local mode" in run.logs()
    command = json.loads((tmp_path / "home" / "runs" / run.id / "command.json").read_text())
    assert command["argv"][1:3] == ["-m", "flyte_jupyter.runtime.run_v2_local"]
    assert command["argv"][-4:] == ["mod", "nb_my_analysis", "instance", "fan"]
    # the sub-tasks' files stay in the run's folder
    assert (tmp_path / "home" / "runs" / run.id / "base" / run.id).is_dir()
    # a sync task calling a sync task runs the same way; a plain task still runs through a0
    assert nb.run_line_magic("flyte_run", "--wait total(n=4)").outputs == 14
    plain = nb.run_line_magic("flyte_run", "--wait sq(x=3)")
    assert plain.outputs == 9
    plain_command = json.loads((tmp_path / "home" / "runs" / plain.id / "command.json").read_text())
    assert plain_command["argv"][0].endswith("a0")
    print(f"v2 fan-out of 5 sub-tasks end to end: {elapsed:.2f} s")  # noqa: T201 - for the report


def test_a_failing_sub_task_fails_the_run_with_its_error_text(nb):
    run_cell(nb, FAN_OUT, cell_id="fan")
    run = nb.run_line_magic("flyte_run", "--wait --no-raise fan(n=3, start=12)")
    assert run.status == "FAILED"
    assert "unlucky 13" in run.error
    with pytest.raises(Exception, match="unlucky 13"):
        _ = run.outputs


def test_cancel_ends_a0_and_the_run_is_aborted(nb):
    from test_local_runs import live_members, wait_for

    run_cell(
        nb,
        "@env.task\ndef sleepy(s: int) -> int:\n    import time\n    time.sleep(s)\n    return s\n",
        cell_id="sleepy",
    )
    run = nb.run_line_magic("flyte_run", "sleepy(s=300)")
    wait_for(run, "RUNNING")
    pid = run.record.extra["pid"]
    run.cancel()
    assert run.status == "ABORTED"
    assert live_members(pid) == []


def test_cancel_ends_a_run_in_flytes_local_mode_with_its_sub_tasks(nb):
    from test_local_runs import live_members, wait_for

    run_cell(
        nb,
        "@env.task\ndef nap(s: int) -> int:\n    import time\n    time.sleep(s)\n    return s\n\n"
        "@env.task\ndef naps(s: int) -> int:\n    return nap(s=s)\n",
        cell_id="naps",
    )
    run = nb.run_line_magic("flyte_run", "naps(s=300)")
    wait_for(run, "RUNNING")
    pid = run.record.extra["pid"]
    run.cancel()
    assert run.status == "ABORTED"
    assert live_members(pid) == []


def test_module_level_current_domain_is_the_runs_domain(nb):
    # a0 initialises flyte with the run's project and domain before it imports the module;
    # the self-check and the serialization worker must not refuse what a0 runs
    run_cell(
        nb,
        "flyte.init(project='p', domain='development')\nDOMAIN = flyte.current_domain()\n"
        "@env.task\ndef where() -> str:\n    return DOMAIN\n",
        cell_id="where",
    )
    run = nb.run_line_magic("flyte_run", "--wait --domain staging where()")
    assert run.status == "SUCCEEDED", run.logs()
    assert run.outputs == "staging"


def test_flyte_jupyter_current_domain_is_the_runs_domain_in_a_v2_task(nb):
    run_cell(
        nb,
        "@env.task\ndef where_fj() -> str:\n"
        "    from flyte_jupyter import current_domain\n\n"
        "    return current_domain() + '/' + flyte.current_domain()\n",
        cell_id="where_fj",
    )
    run = nb.run_line_magic("flyte_run", "--wait --domain staging where_fj()")
    assert run.status == "SUCCEEDED", run.logs()
    assert run.outputs == "staging/staging"
