"""The server publishes its public URL for kernels of no server (issue 13, item 5)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from flyte_jupyter.launch.urls import PUBLIC_INFO

DISPLAY = "https://notebooks.example.com"


@pytest.fixture
def jp_server_config(home):
    return {
        "ServerApp": {
            "jpserver_extensions": {"flyte_jupyter": True},
            "allow_unauthenticated_access": False,
            "custom_display_url": DISPLAY,
        },
        "FlyteJupyterApp": {"home": str(home)},
    }


def test_the_custom_display_url_is_published_without_a_token(jp_serverapp):
    path = Path(jp_serverapp.runtime_dir) / PUBLIC_INFO.format(pid=os.getpid())
    published = json.loads(path.read_text(encoding="utf-8"))
    base = jp_serverapp.base_url
    assert published == {"public_url": f"{DISPLAY}{base}"}
    assert "token" not in path.read_text(encoding="utf-8")
