"""The remote backend end to end: %%flyte_run -> flytekit's FlyteRemote -> a stand-in admin.

The notebook code, the bundle, the serialization and flytekit's FlyteRemote client are real;
the cluster is ``standin_admin.StandinFlyte``, a gRPC server on 127.0.0.1 that records what it
is sent and reports the phases and outputs each test plans (it runs no code).
"""

from __future__ import annotations

import hashlib

import grpc
import pytest
from flyteidl.core import identifier_pb2
from IPython.core.error import UsageError
from remote_shell import DEFS, cell, flyte_run
from standin_admin import ABORTED, FAILED, RUNNING, SUCCEEDED, Plan, int_outputs

pytestmark = pytest.mark.slow


def args_of(request):
    return list(request.spec.template.container.args)


def test_a_task_registers_executes_and_reports_through_flyte_remote(nb, standin, runs):
    standin.plan(Plan(phases=[RUNNING, RUNNING, SUCCEEDED], outputs=int_outputs(o0=49)))
    run = flyte_run(nb, "--backend remote square(x=7)")
    assert run.status in ("QUEUED", "RUNNING")
    assert run.wait(timeout=30).status == "SUCCEEDED"
    assert run.outputs == 49

    assert standin.methods()[:2] == ["CreateTask", "CreateExecution"]
    (task,) = standin.requests("CreateTask")
    assert task.id.resource_type == identifier_pb2.TASK
    assert (task.id.project, task.id.domain, task.id.name) == (
        "flytesnacks",
        "development",
        "nb_my_analysis.square",
    )
    assert task.id.version == run.version
    args = args_of(task)
    assert args[0] == "pyflyte-fast-execute"
    uri = args[args.index("--additional-distribution") + 1]
    assert uri.startswith("s3://bundles/nb/")
    assert uri.endswith(".tar.gz")
    assert uri == run.bundle.uri
    assert "pyflyte-execute" in args

    (execution,) = standin.requests("CreateExecution")
    assert execution.name == run.id
    assert execution.spec.launch_plan == task.id
    assert execution.inputs.literals["x"].scalar.primitive.integer == 7

    console = (
        f"{standin.console}/console/projects/flytesnacks/domains/development/executions/{run.id}"
    )
    assert run.url == console
    record = runs.get(run.id)
    assert record.backend == "remote"
    assert record.remote_id == f"flytesnacks/development/{run.id}"
    assert [e[1] for e in record.events] == ["QUEUED", "RUNNING", "SUCCEEDED"]
    assert record.outputs == {"o0": "49"}
    assert console in run.logs()


def test_a_workflow_registers_its_tasks_workflow_and_launch_plan(nb, standin):
    standin.plan(Plan(outputs=int_outputs(o0=81), outputs_inline=False))
    run = flyte_run(nb, "--backend remote --wait pipeline(x=3)")
    assert run.status == "SUCCEEDED"
    assert run.outputs == 81  # read from the outputs blob URL admin gave, not inline

    methods = standin.methods()
    assert methods[:5] == [
        "CreateTask",
        "CreateWorkflow",
        "CreateLaunchPlan",
        "CreateExecution",
        "GetExecution",
    ]
    # then the status, the outputs once, and the workflow's nodes for its run page
    assert set(methods[5:]) == {
        "GetExecution",
        "GetExecutionData",
        "ListNodeExecutions",
        "GetNodeExecutionData",
    }
    assert len(standin.requests("GetExecutionData")) == 1
    (lp,) = standin.requests("CreateLaunchPlan")
    (execution,) = standin.requests("CreateExecution")
    assert execution.spec.launch_plan == lp.id
    assert lp.id.resource_type == identifier_pb2.LAUNCH_PLAN
    assert lp.id.name == "nb_my_analysis.pipeline"
    assert lp.id.version == run.version
    assert execution.inputs.literals["x"].scalar.primitive.integer == 3


def test_launching_the_same_code_again_tolerates_already_registered_entities(nb, standin):
    first = flyte_run(nb, "--backend remote --wait square(x=2)")
    second = flyte_run(nb, "--backend remote --wait square(x=3)")
    assert first.version == second.version
    assert (first.status, second.status) == ("SUCCEEDED", "SUCCEEDED")
    assert len(standin.tasks) == 1
    assert len(standin.executions) == 2


def test_cancel_terminates_the_execution(nb, standin):
    standin.plan(Plan(phases=[RUNNING]))
    run = flyte_run(nb, "--backend remote square(x=7)")
    assert run.status == "RUNNING"
    assert run.cancel().status == "ABORTED"
    (terminate,) = standin.requests("TerminateExecution")
    assert terminate.id.name == run.id
    assert terminate.cause
    key = ("flytesnacks", "development", run.id)
    assert standin.executions[key].phase == ABORTED


def test_an_execution_admin_no_longer_knows_ends_the_run_once_with_why(nb, standin, runs):
    standin.plan(Plan(phases=[RUNNING]))
    run = flyte_run(nb, "--backend remote square(x=7)")
    assert run.status == "RUNNING"
    with standin.lock:
        standin.executions.clear()  # deleted on the admin, or another admin at this address
    launcher = run._launcher  # asked directly: now, not after the poll interval
    launcher._polled.pop(run.id, None)
    record = launcher.refresh(runs.get(run.id))
    assert record.status == "FAILED"
    assert "no longer knows execution" in record.error
    assert "NOT_FOUND" in record.error
    asked = len(standin.requests("GetExecution"))
    launcher._polled.pop(run.id, None)
    launcher.refresh(record)
    assert len(standin.requests("GetExecution")) == asked  # ended: never asked again


def test_a_failed_execution_keeps_admins_error(nb, standin):
    standin.plan(Plan(phases=[RUNNING, FAILED], error="ZeroDivisionError: division by zero"))
    run = flyte_run(nb, "--backend remote --wait --no-raise square(x=7)")
    assert run.status == "FAILED"
    assert "ZeroDivisionError: division by zero" in run.error
    assert "ZeroDivisionError" in run.logs()
    with pytest.raises(Exception, match="is FAILED: USER:RuntimeError: ZeroDivisionError"):
        _ = run.outputs


def test_a_changed_task_under_a_fixed_version_shows_admins_message(nb, standin):
    flyte_run(nb, "--backend remote --version v1 square(x=2)")
    cell(nb, "@task\ndef square(x: int) -> int:\n    return x + x\n", cell_id="defs2")
    with pytest.raises(UsageError) as info:
        flyte_run(nb, "--backend remote --version v1 square(x=2)")
    message = str(info.value)
    assert "task with different structure already exists" in message
    assert "INVALID_ARGUMENT" in message
    assert "register task nb_my_analysis.square version v1" in message
    assert "launch under a new version" in message
    assert len(standin.executions) == 1


def test_server_errors_are_surfaced_with_their_message(nb, standin, runs):
    standin.fail(
        "CreateExecution", grpc.StatusCode.INVALID_ARGUMENT, "quota exceeded for flytesnacks"
    )
    before = len(runs.list(limit=1000))
    with pytest.raises(UsageError, match="quota exceeded for flytesnacks") as info:
        flyte_run(nb, "--backend remote square(x=2)")
    assert "refused to execute nb_my_analysis.square" in str(info.value)
    assert len(runs.list(limit=1000)) == before  # no ghost run


def test_an_unreachable_admin_says_so(nb, standin, flyte_config, monkeypatch):  # noqa: ARG001
    monkeypatch.setenv("FLYTE_JUPYTER_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(UsageError, match=r"Cannot reach Flyte admin at 127\.0\.0\.1:9"):
        flyte_run(nb, "--backend remote square(x=2)")


def test_a_local_store_is_refused_for_the_cluster(nb, standin, tmp_path, monkeypatch):
    monkeypatch.setenv("FLYTE_JUPYTER_STORE", f"file://{tmp_path / 'store'}")
    with pytest.raises(UsageError, match="which a Flyte cluster cannot read"):
        flyte_run(nb, "--backend remote square(x=2)")
    assert standin.calls == []


def test_without_a_flyte_config_the_error_says_how_to_configure_one(ip, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("FLYTECTL_CONFIG", raising=False)
    monkeypatch.delenv("FLYTE_JUPYTER_ENDPOINT", raising=False)
    monkeypatch.delenv("FLYTE_PLATFORM_URL", raising=False)
    cell(ip, DEFS, cell_id="defs")
    with pytest.raises(UsageError) as info:
        flyte_run(ip, "--backend remote square(x=2)")
    message = str(info.value)
    assert "The remote backend needs a Flyte endpoint" in message
    assert "FLYTE_JUPYTER_ENDPOINT" in message
    assert "flytectl config init" in message


def test_store_flyte_uploads_the_bundle_through_the_data_proxy(nb, standin):
    run = flyte_run(nb, "--backend remote --store flyte --wait square(x=7)")
    assert run.status == "SUCCEEDED"

    (location,) = standin.requests("CreateUploadLocation")
    digest, uri = run.bundle
    assert location.filename == f"fast{digest}.tar.gz"
    assert (location.project, location.domain) == ("flytesnacks", "development")
    archive = standin.blobs[uri]
    assert hashlib.md5(archive).digest() == location.content_md5  # noqa: S324
    assert uri.startswith("s3://standin-bucket/flytesnacks/development/")
    (task,) = standin.requests("CreateTask")
    args = args_of(task)
    assert args[args.index("--additional-distribution") + 1] == uri

    # launched again unchanged: the proxy is not sent the same archive twice
    again = flyte_run(nb, "--backend remote --store flyte --wait square(x=8)")
    assert again.bundle == run.bundle
    assert again.status == "SUCCEEDED"
    assert len(standin.requests("CreateUploadLocation")) == 1
