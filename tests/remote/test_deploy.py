"""%flyte_deploy end to end: bundle -> store -> FlyteRemote registration on a stand-in admin.

The notebook code, the bundle, the moto S3 store, the serialization and flytekit's admin client
are real; the cluster is ``standin_admin.StandinFlyte``, which records what it is sent. A deploy
registers and never executes: no ``CreateExecution`` may reach it.
"""

from __future__ import annotations

import html
import re

import boto3
import grpc
import pytest
from flyteidl.core import identifier_pb2
from IPython.core.error import UsageError
from remote_shell import DEFS, cell

from flyte_jupyter.deploy import Deployment, DeployPlan
from flyte_jupyter.launch.model import Deployed

pytestmark = pytest.mark.slow

SQUARE = "nb_my_analysis.square"
PIPELINE = "nb_my_analysis.pipeline"


def flyte_deploy(ip, line=""):
    """``%flyte_deploy <line>``; returns the Deployment (or the DeployPlan of a dry run)."""
    return ip.run_line_magic("flyte_deploy", line)


def bucket_keys(moto_endpoint):
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's
        region_name="us-east-1",
    )
    return {o["Key"] for o in s3.list_objects_v2(Bucket="bundles").get("Contents", [])}


def test_deploy_registers_tasks_workflow_and_launch_plan_and_runs_nothing(nb, standin):
    result = flyte_deploy(nb)
    assert isinstance(result, Deployment)

    assert "CreateExecution" not in standin.methods()
    assert standin.executions == {}
    assert standin.methods() == ["CreateTask", "CreateWorkflow", "CreateLaunchPlan"]
    version = result.version
    key = ("flytesnacks", "development")
    assert set(standin.tasks) == {(*key, SQUARE, version)}
    assert set(standin.workflows) == {(*key, PIPELINE, version)}
    assert set(standin.launch_plans) == {(*key, PIPELINE, version)}
    (lp,) = standin.requests("CreateLaunchPlan")
    assert lp.id.resource_type == identifier_pb2.LAUNCH_PLAN
    assert lp.spec.workflow_id.name == PIPELINE

    console = f"{standin.console}/console/projects/flytesnacks/domains/development"
    assert result.deployed == (
        Deployed(
            "task", SQUARE, version, "registered", f"{console}/task/{SQUARE}/version/{version}"
        ),
        Deployed(
            "workflow",
            PIPELINE,
            version,
            "registered",
            f"{console}/workflow/{PIPELINE}/version/{version}",
        ),
        Deployed(
            "launch plan",
            PIPELINE,
            version,
            "registered",
            f"{console}/launch_plan/{PIPELINE}/version/{version}",
        ),
    )
    assert result.registered == result.deployed
    # the task runs the bundle that was published to the store
    (task,) = standin.requests("CreateTask")
    args = list(task.spec.template.container.args)
    assert args[args.index("--additional-distribution") + 1] == result.bundle_uri
    assert result.bundle_uri.startswith("s3://bundles/nb/")
    assert result.endpoints == {"flytekit": f"127.0.0.1:{standin.port}"}


def test_the_result_shows_a_table_with_console_links(nb, standin):
    result = flyte_deploy(nb, "square")
    page = result._repr_html_()
    assert "<table" in page
    assert f"<code>{SQUARE}</code>" in page
    url = f"{standin.console}/console/projects/flytesnacks/domains/development/task/{SQUARE}"
    assert f"<a href='{url}/version/{result.version}'" in page
    assert ">registered<" in page
    text = repr(result)
    assert SQUARE in text
    assert result.version in text
    assert "1 newly registered, 0 already registered" in text
    assert [d.kind for d in result.deployed] == ["task"]
    assert standin.workflows == {}


def test_deploying_unchanged_code_again_reports_everything_already_registered(nb, standin):
    first = flyte_deploy(nb)
    second = flyte_deploy(nb)
    assert second.version == first.version
    assert [d.status for d in first.deployed] == ["registered"] * 3
    assert [d.status for d in second.deployed] == ["already registered"] * 3
    assert second.registered == ()
    assert "0 newly registered, 3 already registered" in repr(second)
    assert len(standin.tasks) == len(standin.workflows) == len(standin.launch_plans) == 1
    assert standin.executions == {}


def test_changed_code_under_the_same_explicit_version_is_a_clear_error(nb, standin):
    flyte_deploy(nb, "--version v1 square")
    cell(nb, "@task\ndef square(x: int) -> int:\n    return x + x\n", cell_id="defs2")
    with pytest.raises(UsageError) as info:
        flyte_deploy(nb, "--version v1 square")
    message = str(info.value)
    assert "task with different structure already exists" in message
    assert "INVALID_ARGUMENT" in message
    assert f"register task {SQUARE} version v1" in message
    assert "deploy under a new version (--version), or leave version on auto" in message
    (kept,) = standin.tasks.values()  # the first definition stays
    assert kept == standin.requests("CreateTask")[0].spec


def test_after_a_code_change_auto_version_deploys_a_new_version(nb, standin):
    first = flyte_deploy(nb, "square")
    cell(nb, "@task\ndef square(x: int) -> int:\n    return x + x\n", cell_id="defs2")
    second = flyte_deploy(nb, "square")
    assert second.version != first.version
    assert [d.status for d in second.deployed] == ["registered"]
    assert len(standin.tasks) == 2


def test_dry_run_shows_the_specs_and_uploads_and_registers_nothing(
    nb, standin, moto_endpoint, monkeypatch
):
    monkeypatch.setenv("FLYTE_JUPYTER_STORE", "s3://bundles/dry-run-only")
    before = bucket_keys(moto_endpoint)
    plan = flyte_deploy(nb, "--dry-run --image ghcr.io/acme/app:1 pipeline")
    assert isinstance(plan, DeployPlan)
    assert standin.calls == []
    assert bucket_keys(moto_endpoint) == before
    assert not any(k.startswith("dry-run-only/") for k in bucket_keys(moto_endpoint))

    assert [(p.kind, p.name) for p in plan.planned] == [
        ("task", SQUARE),
        ("workflow", PIPELINE),
        ("launch plan", PIPELINE),
    ]
    task = plan.planned[0]
    assert task.version == plan.version
    assert task.image == "ghcr.io/acme/app:1"
    assert task.args[0] == "pyflyte-fast-execute"
    assert plan.bundle_uri.startswith("s3://bundles/dry-run-only/")
    assert task.args[task.args.index("--additional-distribution") + 1] == plan.bundle_uri
    text = repr(plan)
    assert "nothing uploaded or registered" in text
    assert "pyflyte-fast-execute" in text
    assert "ghcr.io/acme/app:1" in text
    page = plan._repr_html_()
    assert "nothing was uploaded or registered" in page
    assert "<code>ghcr.io/acme/app:1</code>" in page


def test_dry_run_needs_no_cluster(ip, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("FLYTECTL_CONFIG", "FLYTE_JUPYTER_ENDPOINT", "FLYTE_PLATFORM_URL"):
        monkeypatch.delenv(name, raising=False)
    cell(ip, DEFS, cell_id="defs")
    plan = flyte_deploy(ip, "--dry-run square")
    assert [(p.kind, p.name) for p in plan.planned] == [("task", SQUARE)]
    store = tmp_path / "home" / "store"
    assert plan.bundle_uri == f"file://{store}/fast{plan.bundle_digest}.tar.gz"
    assert not list(store.rglob("*.tar.gz"))  # nothing put in the local store either


def test_without_an_endpoint_the_error_says_how_to_configure_one(ip, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in ("FLYTECTL_CONFIG", "FLYTE_JUPYTER_ENDPOINT", "FLYTE_PLATFORM_URL"):
        monkeypatch.delenv(name, raising=False)
    cell(ip, DEFS, cell_id="defs")
    with pytest.raises(UsageError) as info:
        flyte_deploy(ip)
    message = str(info.value)
    assert "needs a Flyte endpoint" in message
    assert "FLYTE_JUPYTER_ENDPOINT" in message
    assert "flytectl config init" in message
    home = tmp_path / "home"
    assert not (home / "store").exists()  # failed before bundling: nothing built or stored
    assert not list(home.glob("cache/**/*.tar.gz"))


def test_deploy_goes_to_the_cluster_whatever_the_backend_setting(nb, standin, monkeypatch):
    monkeypatch.setenv("FLYTE_JUPYTER_BACKEND", "local")
    result = flyte_deploy(nb, "square")
    assert [d.name for d in result.deployed] == [SQUARE]
    assert standin.methods() == ["CreateTask"]


def test_project_and_domain_options_say_where_to_register(nb, standin):
    result = flyte_deploy(nb, "--domain staging square")
    (task,) = standin.requests("CreateTask")
    assert (task.id.project, task.id.domain) == ("flytesnacks", "staging")
    assert "/domains/staging/" in result.deployed[0].url
    with pytest.raises(UsageError, match=r"project \[nowhere\] is not registered"):
        flyte_deploy(nb, "--project nowhere square")


def test_admin_errors_are_usage_errors_with_admins_message(nb, standin):
    standin.fail("CreateTask", grpc.StatusCode.PERMISSION_DENIED, "no deploys on fridays")
    with pytest.raises(UsageError, match="no deploys on fridays") as info:
        flyte_deploy(nb, "square")
    assert "PERMISSION_DENIED" in str(info.value)
    assert "Check the credentials" in str(info.value)


def test_a_local_store_is_refused_for_the_cluster(nb, standin, tmp_path, monkeypatch):
    monkeypatch.setenv("FLYTE_JUPYTER_STORE", f"file://{tmp_path / 'store'}")
    with pytest.raises(UsageError, match="which a Flyte cluster cannot read"):
        flyte_deploy(nb, "square")
    assert standin.calls == []


def test_what_is_not_an_entity_is_refused_before_anything_is_built(nb, standin):
    cell(nb, "answer = 42\n", cell_id="answer")
    with pytest.raises(UsageError, match="answer"):
        flyte_deploy(nb, "answer")
    with pytest.raises(UsageError, match="nope"):
        flyte_deploy(nb, "nope")
    assert standin.calls == []


def test_help_deploys_nothing(nb, standin, capsys):
    assert flyte_deploy(nb, "--help square") is None
    out = capsys.readouterr().out
    assert "--dry-run" in out
    assert "--backend" not in out
    assert standin.calls == []


def test_store_flyte_uploads_through_the_data_proxy_then_registers(
    nb, standin, tmp_path, monkeypatch
):
    # a home of its own: the shared one remembers uploads to this stand-in's data proxy
    monkeypatch.setenv("FLYTE_JUPYTER_HOME", str(tmp_path / "own-home"))
    result = flyte_deploy(nb, "--store flyte square")
    (location,) = standin.requests("CreateUploadLocation")
    assert location.filename == f"fast{result.bundle_digest}.tar.gz"
    assert result.bundle_uri in standin.blobs
    assert standin.methods() == ["CreateUploadLocation", "CreateTask"]
    again = flyte_deploy(nb, "--store flyte square")  # the same bundle is not sent again
    assert again.bundle_uri == result.bundle_uri
    assert len(standin.requests("CreateUploadLocation")) == 1
    assert [d.status for d in again.deployed] == ["already registered"]


def test_console_links_are_only_http_and_everything_is_escaped():
    evil = Deployment(
        version="v<1>",
        project="p",
        domain="d",
        deployed=(
            Deployed("task", "x.<b>bold</b>", "v<1>", "registered", "javascript:alert(1)"),
            Deployed("task", "x.y", "v<1>", "registered", "https://c.example/a?b=1&c='2'"),
        ),
    )
    page = evil._repr_html_()
    assert "<b>bold</b>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "href='javascript" not in page
    assert "<code>javascript:alert(1)</code>" in page
    (href,) = re.findall(r"href='([^']*)'", page)
    assert html.unescape(href) == "https://c.example/a?b=1&c='2'"
