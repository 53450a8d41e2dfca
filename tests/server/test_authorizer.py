"""A read-only Authorizer (jupyter_server's hook, as JupyterHub roles use) may follow runs but
not cancel them: every route asks it, with "read" for GETs and "write" for cancel."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from jupyter_server.auth import Authorizer
from server_helpers import RUN_LIVE
from tornado.httpclient import HTTPClientError

from flyte_jupyter.server.runs import AUTH_RESOURCE


class ReadOnly(Authorizer):
    """Allows reading anything, writing nothing; remembers what it was asked."""

    asked: ClassVar[list[tuple[str, str]]] = []

    def is_authorized(self, handler, user, action, resource):  # noqa: ARG002 - the hook's shape
        self.asked.append((action, resource))
        return action == "read"


@pytest.fixture
def jp_server_config(jp_server_config):
    ReadOnly.asked.clear()
    return jp_server_config | {
        "ServerApp": jp_server_config["ServerApp"] | {"authorizer_class": ReadOnly}
    }


async def test_a_read_only_user_lists_and_views_runs(jp_fetch, runs):  # noqa: ARG001 - runs writes the records
    listed = json.loads((await jp_fetch("flyte-jupyter", "api", "runs")).body)
    assert RUN_LIVE in {run["id"] for run in listed["runs"]}
    page = await jp_fetch("flyte-jupyter", "runs", RUN_LIVE)
    assert page.code == 200
    logs = await jp_fetch("flyte-jupyter", "api", "runs", RUN_LIVE, "logs")
    assert json.loads(logs.body)["id"] == RUN_LIVE
    assert ("read", AUTH_RESOURCE) in ReadOnly.asked


async def test_a_read_only_user_cannot_cancel_and_the_run_goes_on(jp_fetch, runs):  # noqa: ARG001 - runs writes the records
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch("flyte-jupyter", "api", "runs", RUN_LIVE, "cancel", method="POST", body="")
    assert refused.value.code == 403
    assert ("write", AUTH_RESOURCE) in ReadOnly.asked
    run = json.loads((await jp_fetch("flyte-jupyter", "api", "runs", RUN_LIVE)).body)
    assert run["status"] == "RUNNING"
