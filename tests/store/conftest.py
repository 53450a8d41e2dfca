"""Fixtures for the bundle store tests: a moto S3 server and one case per backend."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from flyte_jupyter.store import BundleStore, open_store
from flyte_jupyter.store.fsspec_store import _url_to_fs

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
BUCKET = "bundles"
REPO_ROOT = Path(__file__).resolve().parents[2]


_ERROR_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    "<Error><Code>{code}</Code><Message>injected by the test</Message></Error>"
)


class RequestCounter:
    """WSGI middleware: counts the requests moto receives and can fail chosen ones."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[str, str]] = []
        self.faults: list[tuple[str, int, str]] = []  # (method, status, S3 error code)
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").startswith("/moto-api"):
            return self.app(environ, start_response)
        method = environ["REQUEST_METHOD"]
        with self._lock:
            self.requests.append((method, environ.get("PATH_INFO", "")))
            fault = next((f for f in self.faults if f[0] == method), None)
            if fault is not None:
                self.faults.remove(fault)
        if fault is None:
            return self.app(environ, start_response)
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        body = _ERROR_XML.format(code=fault[2]).encode()
        start_response(f"{fault[1]} Injected", [("Content-Type", "application/xml")])
        return [body]

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.faults.clear()


@dataclass
class MotoS3:
    endpoint: str
    counter: RequestCounter
    fs: Any = None  # one raw s3fs for fixtures; creating a client costs ~0.2 s
    bucket: str = BUCKET

    def reset(self) -> None:
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()
        self.counter.reset()

    def set_auth(self, count: str) -> None:
        """Make moto check credentials after ``count`` requests ("inf": never)."""
        response = requests.post(f"{self.endpoint}/moto-api/reset-auth", data=count, timeout=10)
        response.raise_for_status()


@pytest.fixture
def aws_env(monkeypatch):
    """Test credentials in the environment, for one test (restored after it)."""
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    return AWS_ENV


@pytest.fixture(scope="session")
def moto_server():
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # Count requests by wrapping the WSGI app werkzeug serves (it reads server.app per request).
    counter = RequestCounter(server._server.app)
    server._server.app = counter
    endpoint = f"http://{host}:{port}"
    yield MotoS3(endpoint, counter, _raw_fs("s3://", {"endpoint_url": endpoint}))
    server.stop()


@pytest.fixture
def s3(moto_server, aws_env):  # noqa: ARG001 - clients read the credentials from the env
    """A clean moto with the bucket ``bundles``, and credentials in the environment."""
    moto_server.reset()
    moto_server.fs.invalidate_cache()
    moto_server.fs.mkdir(BUCKET)
    moto_server.counter.reset()
    return moto_server


def _raw_fs(url: str, options: dict[str, Any]) -> Any:
    # fsspec's own backend for the protocol, as the store opens it: once a test has imported
    # flyte (v2), fsspec's registry maps s3:// to obstore, which has other options
    return _url_to_fs(url, options)[0]


@dataclass
class StoreCase:
    """One backend of the contract suite, plus ways to reach around the store."""

    kind: str
    url: str
    home: Path
    storage_options: dict[str, Any] = field(default_factory=dict)
    moto: MotoS3 | None = None
    raw: Any = None

    def open(self, **kw: Any) -> BundleStore:
        return open_store(self.url, home=self.home, storage_options=self.storage_options, **kw)

    def fs(self) -> Any:
        """An fsspec file system for the store URL, its listing cache cleared."""
        if self.raw is None:
            self.raw = self.moto.fs if self.moto else _raw_fs(self.url, self.storage_options)
        self.raw.invalidate_cache()
        return self.raw

    def path(self, name: str) -> str:
        root = _url_to_fs(self.url, self.storage_options)[1]
        return f"{root.rstrip('/')}/{name}"

    def names(self) -> set[str]:
        fs = self.fs()
        root = self.path("").rstrip("/")
        if not fs.exists(root):
            return set()
        return {p.rsplit("/", 1)[-1] for p in fs.find(root, withdirs=False)}

    def read(self, name: str) -> bytes:
        return bytes(self.fs().cat_file(self.path(name)))

    def write(self, name: str, data: bytes) -> None:
        self.fs().pipe_file(self.path(name), data)

    def remove(self, name: str) -> None:
        self.fs().rm_file(self.path(name))


@pytest.fixture(params=["memory", "file", "s3"])
def case(request, tmp_path):
    home = tmp_path / "home"
    if request.param == "memory":
        url = f"memory://t{uuid.uuid4().hex}/store"
        yield StoreCase("memory", url, home)
        fs = _raw_fs(url, {})
        if fs.exists(url):
            fs.rm(url, recursive=True)
    elif request.param == "file":
        yield StoreCase("file", f"file://{tmp_path / 'store'}", home)
    else:
        moto = request.getfixturevalue("s3")
        options = {"endpoint_url": moto.endpoint}
        yield StoreCase("s3", f"s3://{BUCKET}/prefix", home, options, moto)


@pytest.fixture
def archive(tmp_path):
    """A 3 MiB random archive file (the store does not look inside)."""
    path = tmp_path / "bundle.tar.gz"
    path.write_bytes(os.urandom(3 * 1024 * 1024))
    return path
