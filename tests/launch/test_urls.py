"""Run links that work from where the user's browser is (issue 13, item 5)."""

from __future__ import annotations

import json
import os

import pytest

from flyte_jupyter.launch import urls
from flyte_jupyter.launch.urls import public_url, run_url

RUN = "f0123456789abcdefghi"


@pytest.fixture
def runtime(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    return tmp_path


def server(runtime, pid, url="http://localhost:8888/", base_url="/"):
    info = {"pid": pid, "url": url, "base_url": base_url}
    (runtime / f"jpserver-{pid}.json").write_text(json.dumps(info))


def test_a_kernel_of_a_server_links_relative_to_it(runtime, monkeypatch):
    # the server names itself localhost; the browser may be at 127.0.0.1 or behind a proxy
    server(runtime, os.getpid(), base_url="/user/ada/")
    monkeypatch.setattr(urls.os, "getppid", os.getpid)
    assert run_url(None, RUN) == f"/user/ada/flyte-jupyter/runs/{RUN}"


def test_at_the_root_the_link_is_root_relative(runtime, monkeypatch):
    server(runtime, os.getpid())
    monkeypatch.setattr(urls.os, "getppid", os.getpid)
    assert run_url(None, RUN) == f"/flyte-jupyter/runs/{RUN}"


def test_the_server_url_setting_wins(runtime, monkeypatch):
    server(runtime, os.getpid())
    monkeypatch.setattr(urls.os, "getppid", os.getpid)
    assert run_url("https://hub.example.com/user/ada/", RUN) == (
        f"https://hub.example.com/user/ada/flyte-jupyter/runs/{RUN}"
    )


def test_a_kernel_of_no_server_links_to_the_only_server_publicly(runtime, monkeypatch):
    server(runtime, os.getpid(), url="http://localhost:8888/lab-base/", base_url="/lab-base/")
    monkeypatch.setattr(urls.os, "getppid", lambda: 1)  # nbclient, a console: not a server
    assert run_url(None, RUN) == f"http://localhost:8888/lab-base/flyte-jupyter/runs/{RUN}"
    # what the server extension publishes when custom_display_url is set
    published = {"public_url": "https://notebooks.example.com/lab-base/"}
    (runtime / f"flyte_jupyter-{os.getpid()}.json").write_text(json.dumps(published))
    assert run_url(None, RUN) == (
        f"https://notebooks.example.com/lab-base/flyte-jupyter/runs/{RUN}"
    )


def test_no_server_or_several_give_a_relative_link(runtime, monkeypatch):
    monkeypatch.setattr(urls.os, "getppid", lambda: 1)
    assert run_url(None, RUN) == f"/flyte-jupyter/runs/{RUN}"
    server(runtime, os.getpid())
    server(runtime, os.getppid(), url="http://localhost:9999/")
    assert run_url(None, RUN) == f"/flyte-jupyter/runs/{RUN}"


@pytest.mark.parametrize(
    ("display", "expected"),
    [
        ("https://notebooks.example.com", "https://notebooks.example.com/base/"),
        ("https://proxy.example.com/jupyter/", "https://proxy.example.com/jupyter/"),
    ],
)
def test_public_url_follows_jupyter_servers_custom_display_url(display, expected):
    # the parts custom_display_url gives replace the server's own; no token is added
    assert public_url(display, "/base/", "http://localhost:8888/base/?token=x") == expected
