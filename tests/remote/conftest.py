"""Fixtures for the remote backend: the stand-in Flyte admin, a moto S3 store, a flytekit config.

The stand-in (``standin_admin.StandinFlyte``) is not Flyte: it is a gRPC server on 127.0.0.1
that answers the calls flytekit's ``FlyteRemote`` makes and records them. The bucket store is a
moto S3 server on 127.0.0.1. flytekit finds both through a flytekit config file named by
``FLYTECTL_CONFIG``, as a user's ``flytectl config init`` would write it.
"""

from __future__ import annotations

import logging
import textwrap

import pytest
import requests
from remote_shell import DEFS, V2_DEFS, cell
from standin_admin import StandinFlyte

from flyte_jupyter.launch import RunStore
from flyte_jupyter.launch.remote import RemoteLauncher

BUCKET = "bundles"


@pytest.fixture(scope="session")
def standin_server():
    server = StandinFlyte().start()
    yield server
    server.stop()


@pytest.fixture
def standin(standin_server, monkeypatch):
    """The stand-in admin, emptied; runs are polled without the 1 s throttle."""
    standin_server.reset()
    monkeypatch.setattr(RemoteLauncher, "poll_interval", 0.0)
    return standin_server


@pytest.fixture(scope="session")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    requests.put(f"{endpoint}/{BUCKET}", timeout=10).raise_for_status()
    yield endpoint
    server.stop()


@pytest.fixture
def flyte_config(tmp_path, standin, moto_endpoint, monkeypatch):
    """A flytekit config file for the stand-in and the moto store, found via FLYTECTL_CONFIG."""
    section = f"console:\n  endpoint: {standin.console}\n"
    return use_config(tmp_path, monkeypatch, standin.endpoint, moto_endpoint, section)


def use_config(tmp_path, monkeypatch, endpoint, moto_endpoint, section):
    """Write a flyte config file (admin ``endpoint``, the moto store, ``section``) and use it.

    It is found via FLYTECTL_CONFIG; HOME is ``tmp_path`` (no ~/.flyte/config of the machine)
    and no endpoint or store comes from this process's environment.
    """
    path = tmp_path / "flyte-config.yaml"
    path.write_text(
        f"admin:\n  endpoint: {endpoint}\n  insecure: true\n{section}"
        + textwrap.dedent(f"""\
            storage:
              connection:
                endpoint: {moto_endpoint}
                access-key: testing
                secret-key: testing
            """),
        encoding="utf-8",
    )
    monkeypatch.setenv("FLYTECTL_CONFIG", str(path))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    for name in ("FLYTE_JUPYTER_ENDPOINT", "FLYTE_PLATFORM_URL", "FLYTE_JUPYTER_STORE"):
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    """One home and root folder for all these tests, as one notebook launching again and again.

    Bundles, self-checks and serialized specs are cached across tests (the stand-in is not).
    """
    folder = tmp_path_factory.mktemp("remote-nb")
    (folder / "root").mkdir()
    return folder


@pytest.fixture
def runs(shared):
    """The run store of the shared home."""
    return RunStore(shared / "home" / "runs.sqlite")


@pytest.fixture
def nb(ip, flyte_config, shared, monkeypatch):  # noqa: ARG001 - flyte_config sets the env
    """The IPython shell with the tasks defined, set up for the stand-in and the moto store."""
    monkeypatch.setenv("FLYTE_JUPYTER_HOME", str(shared / "home"))
    monkeypatch.setenv("FLYTE_JUPYTER_ROOT_DIR", str(shared / "root"))
    monkeypatch.setenv("FLYTE_JUPYTER_STORE", "s3://bundles/nb")
    cell(ip, DEFS, cell_id="defs")
    return ip


# -- flyte v2: the stand-in control plane ------------------------------------------------------


@pytest.fixture(scope="session")
def standin_v2_server(tmp_path_factory, moto_endpoint):
    """A stand-in Flyte v2 control plane whose ``a0`` runs read the moto store."""
    from standin_v2 import StandinFlyteV2

    server = StandinFlyteV2(
        tmp_path_factory.mktemp("standin-v2"),
        env={
            "FLYTE_AWS_ENDPOINT": moto_endpoint,
            "FLYTE_AWS_ACCESS_KEY_ID": "testing",
            "FLYTE_AWS_SECRET_ACCESS_KEY": "testing",
        },
    ).start()
    yield server
    server.stop()


@pytest.fixture
def standin_v2(standin_v2_server, monkeypatch):
    """The v2 stand-in, emptied and serving; runs are polled without the 1 s throttle."""
    from flyte_jupyter.launch.remote_v2 import RemoteV2Launcher

    standin_v2_server.start()  # a test may have left it stopped
    standin_v2_server.reset()
    monkeypatch.setattr(RemoteV2Launcher, "poll_interval", 0.0)
    monkeypatch.setattr(RemoteV2Launcher, "retry_backoff", (0.1, 0.5))
    return standin_v2_server


@pytest.fixture
def v2_config(tmp_path, standin_v2, moto_endpoint, monkeypatch):
    """A flyte config file for the v2 stand-in and the moto store, found via FLYTECTL_CONFIG."""
    section = "task:\n  org: acme\n  project: flytesnacks\n  domain: development\n"
    return use_config(tmp_path, monkeypatch, standin_v2.endpoint, moto_endpoint, section)


@pytest.fixture
def nb2(ip, v2_config, shared, monkeypatch):  # noqa: ARG001 - v2_config sets the env
    """The IPython shell with v2 tasks defined, set up for the v2 stand-in and the moto store."""
    root = shared / "root"
    (root / "v2helper.py").write_text("def double(v):\n    return 2 * v\n", encoding="utf-8")
    monkeypatch.setenv("FLYTE_JUPYTER_HOME", str(shared / "home"))
    monkeypatch.setenv("FLYTE_JUPYTER_ROOT_DIR", str(root))
    monkeypatch.setenv("FLYTE_JUPYTER_STORE", "s3://bundles/nb")
    monkeypatch.syspath_prepend(str(root))
    cell(ip, V2_DEFS, cell_id="defs2")
    return ip
