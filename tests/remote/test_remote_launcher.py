"""RemoteLauncher pieces against the stand-in admin: config, restarts, upload and cancel edges."""

from __future__ import annotations

import dataclasses

import grpc
import pytest
from remote_shell import flyte_run
from standin_admin import RUNNING, SUCCEEDED, Plan, int_outputs

from flyte_jupyter._os import sha256_file
from flyte_jupyter.bundle.model import Bundle
from flyte_jupyter.errors import LaunchError, StoreError
from flyte_jupyter.launch import Run, launcher_for
from flyte_jupyter.launch.remote import RemoteLauncher, flyte_config
from flyte_jupyter.prepare import publish_bundle
from flyte_jupyter.settings import Settings

pytestmark = pytest.mark.slow


def settings_for(home, **changes):
    return Settings(home=home, backend="remote", **changes)


@pytest.mark.parametrize(
    ("endpoint", "target", "insecure"),
    [
        ("http://flyte.example.com:81/", "flyte.example.com:81", True),
        ("https://flyte.example.com", "flyte.example.com", False),
        ("dns:///flyte.example.com:443", "dns:///flyte.example.com:443", True),
    ],
)
def test_endpoint_goes_over_the_config_file(tmp_path, flyte_config, endpoint, target, insecure):
    config = flyte_config_of(tmp_path, flyte_config, endpoint)
    assert config.platform.endpoint == target
    assert config.platform.insecure is insecure  # the file says insecure: true
    assert config.platform.console_endpoint.startswith("http://127.0.0.1:")  # from the file


def flyte_config_of(tmp_path, config_file, endpoint):
    return flyte_config(settings_for(tmp_path, endpoint=endpoint, config_file=config_file))


def test_an_endpoint_without_a_config_file_is_enough(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("FLYTECTL_CONFIG", raising=False)
    config = flyte_config(settings_for(tmp_path, endpoint="http://127.0.0.1:8089"))
    assert (config.platform.endpoint, config.platform.insecure) == ("127.0.0.1:8089", True)


def test_a_config_file_without_an_endpoint_is_named_in_the_error(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("admin:\n  insecure: true\n", encoding="utf-8")
    with pytest.raises(LaunchError, match=rf"{path} has no admin.endpoint.*flytectl config init"):
        RemoteLauncher.from_settings(settings_for(tmp_path, config_file=path))


def test_a_run_is_followed_after_a_kernel_restart(nb, standin, shared, flyte_config):
    standin.plan(Plan(phases=[RUNNING, RUNNING, SUCCEEDED], outputs=int_outputs(o0=64)))
    run = flyte_run(nb, "--backend remote square(x=8)")
    endpoint = run.record.extra["endpoint"]
    assert run.record.sdk == "flytekit"
    settings = settings_for(shared / "home", endpoint=endpoint, config_file=flyte_config)
    launcher = launcher_for(settings)  # a new kernel: a new launcher, the same run store
    assert isinstance(launcher, RemoteLauncher)
    again = Run(launcher.run_store.get(run.id), launcher)  # no entity object: outputs are previews
    assert again.wait(timeout=30).status == "SUCCEEDED"
    assert again.outputs == {"o0": "64"}
    assert launcher.outputs_pb(again.record) is not None


def test_a_run_of_another_cluster_is_not_polled_here(nb, standin, tmp_path):
    standin.plan(Plan(phases=[RUNNING]))
    run = flyte_run(nb, "--backend remote square(x=8)")
    settings = settings_for(tmp_path, endpoint="http://127.0.0.1:9")
    launcher = RemoteLauncher.from_settings(settings)
    other = Run(run.record, launcher)
    with pytest.raises(LaunchError, match=r"runs on Flyte admin .* configured for 127\.0\.0\.1:9"):
        _ = other.status


def test_cancel_of_a_run_that_ended_meanwhile_keeps_its_end(nb, standin):
    standin.plan(Plan(phases=[RUNNING, RUNNING, SUCCEEDED], outputs=int_outputs(o0=4)))
    run = flyte_run(nb, "--backend remote square(x=2)")
    assert run.status == "RUNNING"
    # admin says the execution is over by the time the terminate request arrives
    standin.fail(
        "TerminateExecution",
        grpc.StatusCode.FAILED_PRECONDITION,
        "Cannot abort an already terminated workflow execution",
    )
    assert run.cancel().status == "SUCCEEDED"
    assert run.outputs == 4


def test_cancel_of_a_finished_run_sends_nothing(nb, standin):
    run = flyte_run(nb, "--backend remote --wait square(x=2)")
    assert run.cancel().status == "SUCCEEDED"
    assert standin.requests("TerminateExecution") == []


def _bundle(tmp_path):
    archive = tmp_path / "fastabc123.tar.gz"
    archive.write_bytes(b"not really a tarball, the data proxy does not look")
    return Bundle(
        digest="abc123",
        path=archive,
        root=tmp_path,
        entries=(),
        module=None,
        source=None,
        dropped=(),
        excluded=(),
    )


def test_upload_through_the_data_proxy(tmp_path, standin, flyte_config):
    settings = settings_for(
        tmp_path, endpoint=standin.endpoint, config_file=flyte_config, store="flyte"
    )
    bundle = publish_bundle(_bundle(tmp_path), settings)
    assert bundle.reused is False
    assert standin.blobs[bundle.uri] == bundle.path.read_bytes()
    assert bundle.uri.endswith("/fastabc123.tar.gz")
    assert bundle.sha256 == sha256_file(bundle.path)
    assert dataclasses.replace(bundle, uri=None, reused=None, sha256=None) == _bundle(tmp_path)


def test_an_unchanged_bundle_is_not_sent_through_the_data_proxy_again(
    tmp_path, standin, flyte_config
):
    settings = settings_for(
        tmp_path, endpoint=standin.endpoint, config_file=flyte_config, store="flyte"
    )
    first = publish_bundle(_bundle(tmp_path), settings)
    again = publish_bundle(_bundle(tmp_path), settings)
    assert (first.reused, again.reused) == (False, True)
    assert again.uri == first.uri
    assert len(standin.requests("CreateUploadLocation")) == 1

    # another domain is another place of the cluster: sent there too
    elsewhere = publish_bundle(_bundle(tmp_path), dataclasses.replace(settings, domain="staging"))
    assert elsewhere.reused is False
    assert len(standin.requests("CreateUploadLocation")) == 2


def test_a_refused_upload_is_a_store_error_with_admins_message(tmp_path, standin, flyte_config):
    standin.fail("CreateUploadLocation", grpc.StatusCode.PERMISSION_DENIED, "uploads are off")
    settings = settings_for(
        tmp_path, endpoint=standin.endpoint, config_file=flyte_config, store="flyte"
    )
    with pytest.raises(StoreError, match=r"refused to upload the bundle.*uploads are off"):
        publish_bundle(_bundle(tmp_path), settings)
    assert standin.blobs == {}
