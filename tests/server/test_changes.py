"""The sidebar's push channel: ``runs/changes`` answers as soon as the run store changes.

And remote statuses are asked of the admin by one watcher, throttled per run, never by a list.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from server_helpers import RUN_LIVE, RUN_REMOTE, make_record

from flyte_jupyter.server.service import RunService

pytestmark = pytest.mark.usefixtures("runs")


async def changes(jp_fetch, **params):
    response = await jp_fetch("flyte-jupyter", "api", "runs", "changes", params=params)
    assert response.code == 200
    return json.loads(response.body)


async def test_a_new_run_wakes_a_waiting_sidebar_at_once(jp_fetch, runs, home):
    first = await changes(jp_fetch, timeout="0")
    assert first["changed"] is True  # nothing was known before

    waiting = asyncio.ensure_future(changes(jp_fetch, after=first["token"], timeout="20"))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    started = time.monotonic()
    new = make_record(home, "fnew0000000000000005", status="QUEUED")
    await asyncio.get_running_loop().run_in_executor(None, runs.add, new)
    answer = await asyncio.wait_for(waiting, 10)
    assert answer["changed"] is True
    assert answer["token"] != first["token"]
    assert time.monotonic() - started < 2  # not the 20 s timeout


async def test_a_status_change_wakes_it_and_no_change_times_out(jp_fetch, runs):
    token = (await changes(jp_fetch, timeout="0"))["token"]
    same = await changes(jp_fetch, after=token, timeout="1")
    assert same == {"token": token, "changed": False}

    waiting = asyncio.ensure_future(changes(jp_fetch, after=token, timeout="20"))
    await asyncio.sleep(0.2)
    await asyncio.get_running_loop().run_in_executor(
        None, lambda: runs.update(RUN_LIVE, "SUCCEEDED", "done")
    )
    answer = await asyncio.wait_for(waiting, 10)
    assert answer["changed"] is True


async def test_changes_refuses_a_silly_timeout(jp_fetch):
    from tornado.httpclient import HTTPClientError

    with pytest.raises(HTTPClientError) as info:
        await changes(jp_fetch, timeout="600")
    assert info.value.code == 400


class FakeRemote:
    def __init__(self, store):
        self.store = store
        self.asked: list[str] = []

    def refresh(self, record):
        self.asked.append(record.id)
        self.store.update(record.id, "SUCCEEDED", "admin phase SUCCEEDED")
        return self.store.get(record.id)


def test_remote_statuses_are_asked_once_per_interval(home, runs, monkeypatch):
    service = RunService(home, home)
    fake = FakeRemote(runs)
    monkeypatch.setattr(service, "_remote_launcher", lambda _record: fake)
    # listing never asks the admin
    assert service.list_runs()[0].status == "RUNNING"
    assert fake.asked == []
    assert service.refresh_remote(10) == 1
    assert fake.asked == [RUN_REMOTE]
    assert runs.get(RUN_REMOTE).status == "SUCCEEDED"
    assert service.refresh_remote(10) == 0  # ended: not asked again


def test_an_unreachable_backend_is_logged_once(home, runs, monkeypatch, caplog):
    from flyte_jupyter.server.service import Unsupported

    service = RunService(home, home)

    def refuse(_record):
        raise Unsupported("no flytekit here")

    monkeypatch.setattr(service, "_remote_launcher", refuse)
    assert service.refresh_remote(0) == 1
    assert service.refresh_remote(0) == 1
    assert [r.message for r in caplog.records].count(
        f"flyte_jupyter: cannot follow run {RUN_REMOTE}: no flytekit here"
    ) == 1
    assert runs.get(RUN_REMOTE).status == "RUNNING"


async def test_a_failing_remote_follow_does_not_stop_the_watcher(jp_fetch, jp_serverapp, runs):
    watch = jp_serverapp.web_app.settings["flyte_jupyter_watch"]

    def explode(_interval):
        raise RuntimeError("surprise")

    watch.service.refresh_remote = explode
    watch.remote_interval = 0
    token = (await changes(jp_fetch, timeout="0"))["token"]
    waiting = asyncio.ensure_future(changes(jp_fetch, after=token, timeout="20"))
    await asyncio.sleep(0.6)  # the watcher has met the surprise at least once
    await asyncio.get_running_loop().run_in_executor(
        None, lambda: runs.update(RUN_LIVE, "SUCCEEDED", "done")
    )
    assert (await asyncio.wait_for(waiting, 10))["changed"] is True
