"""flyte v2 tasks on the remote backend: ``%flyte_run --backend remote`` against the stand-in v2
control plane (tests/remote/standin_v2.py), which runs each created run with the stock ``a0`` on
the uploaded bundle. flyte's real client (``ClientSet``, Connect RPC) makes every call."""

from __future__ import annotations

import time

import pytest
from IPython.core.error import UsageError
from remote_shell import V2_DEFS, cell, flyte_run

from flyte_jupyter.display import live_html
from flyte_jupyter.errors import RunFailedError
from flyte_jupyter.launch.liveness import lost, lost_note

pytestmark = pytest.mark.slow

V2_CHANGED = V2_DEFS.replace("return v2helper.double(x) * x // 2", "return x * x + 0")


def wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_v2_task_runs_on_the_control_plane_from_its_bundle(nb2, standin_v2, runs):
    run = flyte_run(nb2, "--backend remote --wait square(x=7)")
    assert run.status == "SUCCEEDED", run.logs()
    assert run.outputs == 49
    assert run.url == f"{standin_v2.url}/v2/domain/development/project/flytesnacks/runs/{run.id}"
    record = runs.get(run.id)
    assert (record.backend, record.sdk, record.outputs) == ("remote", "flyte", {"o0": "49"})
    assert [e[1] for e in record.events][-1] == "SUCCEEDED"

    (created,) = standin_v2.requests("CreateRun")
    assert (created.run_id.org, created.run_id.name) == ("acme", run.id)  # task.org of the config
    template = created.task_spec.task_template
    assert (template.id.name, template.id.org, template.id.version) == (
        "nbv2.square",
        "acme",
        run.version,
    )
    args = list(template.container.args)
    digest, uri = run.bundle
    assert args[args.index("--tgz") + 1] == uri  # our bundle, not a pickle
    assert uri.startswith("s3://bundles/nb/")
    assert digest in uri
    assert "--pkl" not in args
    (uploaded,) = standin_v2.requests("UploadInputs")
    assert [n.name for n in uploaded.inputs.literals] == ["x"]
    assert created.offloaded_input_data.uri  # what UploadInputs answered
    methods = standin_v2.methods()
    assert "WatchActionDetails" in methods
    assert "GetActionData" in methods


def test_a_failing_v2_task_fails_the_cell_with_its_error(nb2, standin_v2):
    with pytest.raises(RunFailedError, match="bad value 3") as info:
        flyte_run(nb2, "--backend remote --wait boom(x=3)")
    run = info.value.run
    assert run.status == "FAILED"
    assert "bad value 3" in run.error
    assert standin_v2.requests("CreateRun")


def test_cancel_aborts_the_run_on_the_control_plane(nb2, standin_v2, runs):
    standin_v2.hold()
    run = flyte_run(nb2, "--backend remote square(x=2)")
    wait_for(lambda: runs.get(run.id).status == "RUNNING")
    run.cancel()
    assert run.status == "ABORTED"
    (abort,) = standin_v2.requests("AbortRun")
    assert abort.run_id.name == run.id
    assert "flyte_jupyter" in abort.reason
    standin_v2.release()
    assert wait_for(lambda: standin_v2.run(run.id).done)


def test_the_data_proxy_gets_an_unchanged_bundle_once(nb2, standin_v2):
    first = flyte_run(nb2, "--backend remote --store flyte --wait square(x=3)")
    second = flyte_run(nb2, "--backend remote --store flyte --wait square(x=4)")
    assert (first.outputs, second.outputs) == (9, 16)
    (location,) = standin_v2.requests("CreateUploadLocation")
    digest, uri = first.bundle
    assert location.filename == f"fast{digest}.tar.gz"
    assert (location.org, location.project, location.domain) == (
        "acme",
        "flytesnacks",
        "development",
    )
    assert second.bundle == (digest, uri)
    assert len(standin_v2.uploads) == 1


def test_an_unreachable_control_plane_says_where_and_records_no_run(nb2, standin_v2, runs):
    before = {r.id for r in runs.list()}
    standin_v2.stop()
    try:
        with pytest.raises(UsageError, match="Cannot reach the Flyte control plane at") as info:
            flyte_run(nb2, "--backend remote square(x=1)")
    finally:
        standin_v2.start()
    assert "admin.insecure" in str(info.value)
    assert {r.id for r in runs.list()} == before


def test_a_refused_run_shows_the_servers_message(nb2, standin_v2, runs):
    from connectrpc.code import Code

    before = {r.id for r in runs.list()}
    standin_v2.fail("CreateRun", Code.PERMISSION_DENIED, "project is read-only")
    with pytest.raises(
        UsageError, match=r"refused to run nbv2.square.*project is read-only"
    ) as info:
        flyte_run(nb2, "--backend remote square(x=1)")
    assert "(PERMISSION_DENIED)" in str(info.value)
    assert "credentials" in str(info.value)  # what to check
    assert {r.id for r in runs.list()} == before  # no run recorded for a refused launch


def test_the_display_says_when_the_control_plane_is_unreachable_and_recovers(nb2, standin_v2, runs):
    standin_v2.hold()
    run = flyte_run(nb2, "--backend remote square(x=5)")
    wait_for(lambda: runs.get(run.id).status == "RUNNING")
    standin_v2.stop(kill_runs=False)
    try:
        lost = wait_for(lambda: runs.get(run.id).extra.get("connection"))
        assert "Cannot reach the Flyte control plane" in lost
        frame = live_html(runs.get(run.id), [])
        assert "Cannot reach the Flyte control plane" in frame
    finally:
        standin_v2.start()
    standin_v2.release()
    run.wait(timeout=60)
    assert run.outputs == 25
    record = runs.get(run.id)
    assert record.status == "SUCCEEDED"
    assert not record.extra.get("connection")
    assert "Cannot reach" not in live_html(record, [])


def test_the_jupyter_server_follows_a_v2_remote_run_without_a_kernel(nb2, standin_v2, runs, shared):
    from flyte_jupyter.server.service import RunService

    standin_v2.hold()
    run = flyte_run(nb2, "--backend remote square(x=6)")
    run._launcher.close()  # as if its kernel had ended: nobody watches the run
    service = RunService(shared / "home", shared / "root")
    wait_for(lambda: service.refresh_remote(0) >= 0 and runs.get(run.id).status == "RUNNING")
    asked = len(standin_v2.requests("GetRunDetails"))
    assert service.refresh_remote(60) == 0  # within the interval: nobody is asked
    assert len(standin_v2.requests("GetRunDetails")) == asked

    # the control plane is unreachable for a while: pages and lists show the run as lost
    standin_v2.stop(kill_runs=False)
    try:
        service.refresh_remote(0)
        record = runs.get(run.id)
        assert lost(record)
        assert record.status == "RUNNING"  # kept as recorded
        note = lost_note(record)
        assert note.startswith("Not heard from since ")
        assert "Cannot reach the Flyte control plane at" in note
    finally:
        standin_v2.start()
    service.refresh_remote(0)
    assert not lost(runs.get(run.id))  # heard from again
    standin_v2.release()

    def ended():
        service.refresh_remote(0)
        return runs.get(run.id).done

    wait_for(ended)
    assert runs.get(run.id).outputs == {"o0": "36"}
    calls = len(standin_v2.calls)
    service.list_runs()
    assert len(standin_v2.calls) == calls  # listing runs never calls the control plane


def test_deploy_registers_a_v2_task_under_its_version_and_runs_nothing(nb2, standin_v2):
    deployment = nb2.run_line_magic("flyte_deploy", "square")
    assert [(d.kind, d.name, d.status) for d in deployment.deployed] == [
        ("task", "nbv2.square", "registered")
    ]
    (request,) = standin_v2.requests("DeployTask")
    ident = request.task_id
    assert (ident.org, ident.project, ident.domain, ident.name, ident.version) == (
        "acme",
        "flytesnacks",
        "development",
        "nbv2.square",
        deployment.version,
    )
    args = list(request.spec.task_template.container.args)
    assert args[args.index("--tgz") + 1].startswith("s3://bundles/nb/")
    assert "CreateRun" not in standin_v2.methods()
    (shown,) = deployment.deployed
    assert (
        shown.url == f"{standin_v2.url}/v2/domain/development/project/flytesnacks/tasks/nbv2.square"
    )

    again = nb2.run_line_magic("flyte_deploy", "square")
    assert [d.status for d in again.deployed] == ["already registered"]
    assert again.version == deployment.version


def test_a_changed_v2_task_under_the_same_version_is_a_clear_error(nb2, standin_v2):
    nb2.run_line_magic("flyte_deploy", "--version v1 square")
    cell(nb2, V2_CHANGED, cell_id="defs2")
    with pytest.raises(UsageError, match=r"already deployed .* different definition.*--version"):
        nb2.run_line_magic("flyte_deploy", "--version v1 square")
    assert len(standin_v2.requests("DeployTask")) == 2


def test_a_dry_run_deploy_of_a_v2_task_contacts_no_control_plane(nb2, standin_v2):
    plan = nb2.run_line_magic("flyte_deploy", "--dry-run square")
    assert [(p.kind, p.name) for p in plan.planned] == [("task", "nbv2.square")]
    assert standin_v2.calls == []


def test_a_later_kernel_follows_and_cancels_a_v2_remote_run_from_the_run_store(nb2, standin_v2):
    import flyte_jupyter

    standin_v2.hold()
    launched = flyte_run(nb2, "--backend remote square(x=9)")
    launched._launcher.close()  # the kernel that launched it is gone
    found = flyte_jupyter.get_run(launched.id)  # what a new kernel finds in the run store
    assert type(found._launcher._get()).__name__ == "RemoteV2Launcher"
    wait_for(lambda: found.status == "RUNNING")
    found.cancel()
    assert found.status == "ABORTED"
    (abort,) = standin_v2.requests("AbortRun")
    assert abort.run_id.name == launched.id
    listed = nb2.run_line_magic("flyte_runs", "")
    assert any(run.id == launched.id and run.status == "ABORTED" for run in listed)
