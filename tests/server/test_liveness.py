"""Reads never end a run: liveness comes from the supervisor's lease, which every process sees.

The kernel, its run supervisors and the Jupyter server may run in different containers that
share the home folder. Such records are written here as another container would write them: a
supervisor pid that is not a live process on this host, with a fresh or a stale lease.
"""

import asyncio
import json
import time

import pytest
from server_helpers import make_record

from flyte_jupyter.launch.liveness import LEASE, host_id
from flyte_jupyter.launch.model import RunPaths
from flyte_jupyter.launch.runstore import RunStore

pytestmark = pytest.mark.usefixtures("runs")

ELSEWHERE = "fother000000000000a1"
STALE = "fstale000000000000a2"


async def dead_pid():
    """The pid of a process that has ended: not alive on this host."""
    proc = await asyncio.create_subprocess_exec("true")
    await proc.wait()
    return proc.pid


async def add_running(home, run_id, *, heartbeat_at, host):
    store = RunStore(home / "runs.sqlite")
    store.add(make_record(home, run_id, status="QUEUED", outputs=None, heartbeat_at=heartbeat_at))
    pid = await dead_pid()
    store.update(run_id, "RUNNING", "started", extra={"pid": pid, "started": "1", "host": host})
    return store, store.get(run_id)


async def get_run(jp_fetch, run_id):
    response = await jp_fetch("flyte-jupyter", "api", "runs", run_id)
    return json.loads(response.body)


async def test_a_run_heard_from_in_another_container_stays_running(jp_fetch, home):
    store, before = await add_running(
        home, ELSEWHERE, heartbeat_at=time.time(), host="kernel-container/boot/pid:[1]"
    )
    body = await get_run(jp_fetch, ELSEWHERE)
    assert body["status"] == "RUNNING"
    assert body["lost"] is False
    assert body["lost_note"] is None
    listed = json.loads((await jp_fetch("flyte-jupyter", "api", "runs")).body)["runs"]
    assert {r["id"]: r["status"] for r in listed}[ELSEWHERE] == "RUNNING"
    page = (await jp_fetch("flyte-jupyter", "runs", ELSEWHERE)).body.decode()
    assert "RUNNING" in page
    assert 'data-lost="0"' in page
    assert "Lost:" not in page
    assert store.get(ELSEWHERE) == before  # nothing was written


async def test_a_stale_lease_is_shown_as_lost_and_never_written(jp_fetch, home):
    # even with this host's id and a dead pid, a reader only shows what it sees
    stale = time.time() - LEASE - 60
    store, before = await add_running(home, STALE, heartbeat_at=stale, host=host_id())
    body = await get_run(jp_fetch, STALE)
    assert body["status"] == "RUNNING"
    assert body["done"] is False
    assert body["lost"] is True
    assert "not heard from since" in body["lost_note"]
    page = (await jp_fetch("flyte-jupyter", "runs", STALE)).body.decode()
    assert "<p class='fj-sub fj-lost'>Lost: not heard from since" in page
    assert 'data-lost="1"' in page
    await jp_fetch("flyte-jupyter", "api", "runs", params={"status": "RUNNING"})
    assert store.get(STALE) == before


async def test_cancel_of_a_lost_run_asks_its_supervisor_and_records_it_ended(jp_fetch, home):
    stale = time.time() - LEASE - 60
    store, _ = await add_running(home, STALE, heartbeat_at=stale, host="elsewhere")
    response = await jp_fetch(
        "flyte-jupyter", "api", "runs", STALE, "cancel", method="POST", body=b""
    )
    body = json.loads(response.body)
    assert body["status"] == "ABORTED"
    assert "not heard from" in body["events"][-1]["message"]
    # a supervisor that is alive after all finds the request at its next heartbeat
    assert RunPaths(home / "runs" / STALE).cancel_request.exists()
    assert store.get(STALE).status == "ABORTED"


async def test_a_cancel_its_distant_supervisor_has_not_confirmed_is_accepted_not_an_error(
    jp_fetch, home, monkeypatch
):
    from flyte_jupyter.launch import local

    monkeypatch.setattr(local, "CANCEL_GRACE", 0.2)  # the wait is 0.2 s + three heartbeats
    store, _ = await add_running(
        home, ELSEWHERE, heartbeat_at=time.time(), host="kernel-container/boot/pid:[1]"
    )
    response = await jp_fetch(
        "flyte-jupyter", "api", "runs", ELSEWHERE, "cancel", method="POST", body=b""
    )
    assert response.code == 202
    body = json.loads(response.body)
    assert body["status"] == "RUNNING"  # nothing was stopped from here, nor recorded
    assert "has not confirmed" in body["message"]
    assert store.get(ELSEWHERE).status == "RUNNING"
    assert RunPaths(home / "runs" / ELSEWHERE).cancel_request.exists()
