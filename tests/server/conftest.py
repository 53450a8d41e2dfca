"""A real in-process Jupyter server with the extension, requiring auth, over a tmp run store.

pytest-jupyter's fixtures and hooks are imported here rather than named in ``pytest_plugins``
(only the root conftest may do that), so its autouse fixtures stay inside tests/server.
Run records are written with ``RunStore.add``: no real run is needed to test the handlers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403
from server_helpers import EVIL, RUN_EVIL, RUN_LIVE, RUN_OK, RUN_REMOTE, make_record

from flyte_jupyter.launch.runstore import RunStore


@pytest.fixture
def home(tmp_path):
    return tmp_path / "fj-home"


@pytest.fixture
def jp_server_config(home):
    return {
        "ServerApp": {
            "jpserver_extensions": {"flyte_jupyter": True},
            # every endpoint must demand authentication
            "allow_unauthenticated_access": False,
        },
        "FlyteJupyterApp": {"home": str(home), "poll_interval": 1.0},
    }


@pytest.fixture
def runs(home):
    """Four runs: a success with files, a live one, a failure full of markup, a remote one."""
    store = RunStore(home / "runs.sqlite")
    t0 = time.time() - 100
    ok = make_record(home, RUN_OK, status="QUEUED", created_at=t0 + 1, updated_at=t0 + 3)
    store.add(ok)
    run_dir = Path(ok.run_dir)
    (run_dir / "run.log").write_text("line one\nline two\nsquare says 49\n", encoding="utf-8")
    work = run_dir / "work"
    (work / "helpers").mkdir(parents=True)
    (work / "nb_demo.py").write_text(
        "from flytekit import task\n\n@task\ndef square(x: int) -> int:\n    return x * x\n",
        encoding="utf-8",
    )
    (work / "helpers" / "util.py").write_text("K = 1\n", encoding="utf-8")
    (work / "__pycache__").mkdir()
    (work / "__pycache__" / "nb_demo.cpython-311.pyc").write_bytes(b"\0")
    command = {
        "argv": ["pyflyte-fast-execute", "--additional-distribution", "s3://u:pw@b/fast.tar.gz"],
        "env": {"FLYTE_INTERNAL_EXECUTION_ID": RUN_OK, "MY_API_TOKEN": "hunter2", "PLAIN": "ok"},
        "cwd": str(work),
        "max_parallel": 2,
    }
    (run_dir / "command.json").write_text(json.dumps(command), encoding="utf-8")

    live = make_record(
        home, RUN_LIVE, status="RUNNING", outputs=None, created_at=t0 + 2, entity="cube"
    )
    store.add(live)
    Path(live.log_path).write_text("started\n", encoding="utf-8")

    evil = make_record(
        home,
        RUN_EVIL,
        status="RUNNING",
        entity="evil",
        flyte_name=f"nb_demo.{EVIL}",
        created_at=t0 + 3,
        inputs={"x": EVIL, "api_key": "sk-secret"},
        outputs=None,
        error=f"ValueError: {EVIL}",
        notebook=f"/work/{EVIL}.ipynb",
    )
    store.add(evil)
    Path(evil.log_path).write_text(f"boom {EVIL}\n", encoding="utf-8")
    bundle = {
        "digest": "cd" * 32,
        "module": "nb_demo",
        "files": [{"path": "nb_demo.py", "size": 12, "mode": 420}],
        "source": f"# {EVIL}\n",
        "dropped": [
            {"cell": "cell [3]", "line": 1, "code": f"print('{EVIL}')", "reason": "side effect"}
        ],
        "excluded": [{"path": ".env", "reason": "looks like a secret"}],
    }
    (Path(evil.run_dir) / "bundle.json").write_text(json.dumps(bundle), encoding="utf-8")

    remote = make_record(
        home,
        RUN_REMOTE,
        backend="remote",
        status="RUNNING",
        outputs=None,
        created_at=t0 + 4,
        url="https://flyte.example.com/console/projects/flytesnacks/executions/x",
        run_dir=None,
        log_path=None,
        remote_id="flytesnacks:development:x",
    )
    store.add(remote)
    store.update(RUN_OK, "RUNNING", "started")
    store.update(RUN_OK, "SUCCEEDED", "done")
    store.update(RUN_EVIL, "FAILED", "the task raised")
    return store


def _raw_fetcher(client, base_url, auth_headers):
    def fetch(path, method="GET", headers=None, **kwargs):
        url = base_url.rstrip("/") + "/" + path.lstrip("/")  # sent as written: no escaping
        if method == "POST":
            kwargs.setdefault("body", b"")
        return client.fetch(
            url,
            method=method,
            headers={**auth_headers, **(headers or {})},
            raise_error=False,
            follow_redirects=False,
            **kwargs,
        )

    return fetch


@pytest.fixture
def anonymous(http_server_client, jp_base_url):
    """Fetch a path as written, without credentials, never following redirects."""
    return _raw_fetcher(http_server_client, jp_base_url, {})


@pytest.fixture
def raw(http_server_client, jp_base_url, jp_auth_header):
    """Fetch a path exactly as written (no URL escaping), with the token."""
    return _raw_fetcher(http_server_client, jp_base_url, jp_auth_header)
