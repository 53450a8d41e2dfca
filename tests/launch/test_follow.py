"""One follower per process: live displays and ``wait()`` share one thread and one connection.

The runs here are records in a real run store, kept alive by a lease this test renews, and
followed by the real local launcher: what is measured is what the kernel does, not the runs.
"""

import multiprocessing
import os
import sqlite3
import threading
import time

import pytest

from flyte_jupyter.display import LiveRun
from flyte_jupyter.errors import LaunchError
from flyte_jupyter.launch import Run, RunRecord, RunStore
from flyte_jupyter.launch.follow import FAST, follower
from flyte_jupyter.launch.liveness import host_id, start_time
from flyte_jupyter.launch.local import LocalLauncher


def running(store, run_id):
    now = time.time()
    pid = os.getpid()  # a live "supervisor" this process can see
    store.add(
        RunRecord(
            id=run_id,
            backend="local",
            entity="sleepy",
            flyte_name="nb.sleepy",
            kind="task",
            project="p",
            domain="d",
            version="v",
            status="QUEUED",
            created_at=now,
            updated_at=now,
            extra={"pid": pid, "started": start_time(pid), "host": host_id()},
        )
    )
    store.update(run_id, "RUNNING", "started")
    store.heartbeat(run_id)
    return store.get(run_id)


@pytest.fixture
def home(tmp_path):
    return tmp_path / "home"


@pytest.fixture
def launcher(home):
    return LocalLauncher(home, max_parallel=1, server_url=None)


def follow_threads():
    return [t for t in threading.enumerate() if t.name == "flyte-follow"]


def settle(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def sqlite_use(monkeypatch):
    """Connections opened and statements run from now on, in this process."""
    real = sqlite3.connect
    counts = {"connections": 0, "statements": 0}

    def counting(*args, **kwargs):
        conn = real(*args, **kwargs)
        counts["connections"] += 1

        def trace(_statement):
            counts["statements"] += 1

        conn.set_trace_callback(trace)
        return conn

    monkeypatch.setattr(sqlite3, "connect", counting)
    return counts


def test_three_live_displays_share_one_follower_and_one_connection(
    ip, launcher, sqlite_use, monkeypatch
):
    settle(lambda: not follower().running)  # nothing left over from another test
    store = launcher.run_store
    runs = [LiveRun.of(Run(running(store, f"fdisp00000000000000{i}"), launcher)) for i in range(3)]
    published = []
    monkeypatch.setattr(ip.display_formatter, "active_types", ["text/plain", "text/html"])
    monkeypatch.setattr(
        ip.display_pub, "publish", lambda data, **kw: published.append((data, kw.get("update")))
    )
    before = {t.ident for t in threading.enumerate()}
    opened = sqlite_use["connections"]  # this thread's, for the records above
    for run in runs:
        run._ipython_display_()
    assert len(published) == 3
    time.sleep(0.3)
    counts = dict(sqlite_use)
    started = time.monotonic()
    for _ in range(6):  # keep the "supervisors" heard from while measuring
        time.sleep(0.25)
        for run in runs:
            store.heartbeat(run.id)
    seconds = time.monotonic() - started
    statements = (sqlite_use["statements"] - counts["statements"]) / seconds
    new_threads = [t.name for t in threading.enumerate() if t.ident not in before]
    assert new_threads == ["flyte-follow"]
    assert sqlite_use["connections"] - opened == 1  # the follower's own, opened once
    # three displays read their run every 0.25 s (two SELECTs each); the main thread's
    # heartbeats are counted too. Each display thread of its own, opening the store 20 times
    # a second, made over 400 statements a second.
    assert statements < 60, statements

    store.update(runs[0].id, "SUCCEEDED", "done")
    settle(lambda: any(update and "SUCCEEDED" in data["text/html"] for data, update in published))
    assert follower().watches == 2
    for run in runs[1:]:
        store.update(run.id, "ABORTED", "cancelled")
    settle(lambda: not follower().running)
    assert follow_threads() == []
    # each display ends with one frame of its final status; meanwhile, at most a frame a
    # second each (elapsed time and log tail), not one per read
    ended = [d for d, update in published if update and "running for" not in d["text/html"]]
    assert len(ended) == 3
    assert sum(1 for _data, update in published if update) <= 3 + 3 * (seconds + 2)


def test_wait_returns_a_fast_tick_after_the_run_ends(launcher):
    store = launcher.run_store
    run = Run(running(store, "fwait000000000000001"), launcher)
    ended_at = []

    def finish():
        time.sleep(0.5)
        store.update(run.id, "SUCCEEDED", "done")
        ended_at.append(time.monotonic())

    threading.Thread(target=finish).start()
    assert run.wait(timeout=30).status == "SUCCEEDED"
    returned = time.monotonic()
    assert returned - ended_at[0] < FAST + 0.45  # about FAST / 2 on an idle machine
    settle(lambda: follower().watches == 0)


def test_wait_times_out_with_the_status_and_stops_watching(launcher):
    run = Run(running(launcher.run_store, "fwait000000000000002"), launcher)
    started = time.monotonic()
    with pytest.raises(LaunchError, match=r"is still RUNNING after 0\.3 s"):
        run.wait(timeout=0.3)
    assert time.monotonic() - started < 2
    assert follower().watches == 0


def test_wait_raises_what_the_follower_met(launcher, home):
    run = Run(running(launcher.run_store, "fwait000000000000003"), launcher)

    def damage():
        time.sleep(0.3)
        path = home / "runs.sqlite"
        spoiled = path.with_name("spoiled")
        spoiled.write_bytes(b"not a database" * 100)
        spoiled.replace(path)  # a new file at the path: the follower opens it, and fails
        for suffix in ("-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)

    threading.Thread(target=damage).start()
    with pytest.raises(LaunchError, match="is unreadable") as caught:
        run.wait(timeout=30)
    assert "Move it aside" in str(caught.value)
    assert follower().watches == 0


def _child_waits(path, queue):
    store = RunStore(path)
    launcher = LocalLauncher(store.path.parent, max_parallel=1, server_url=None)
    run = Run(store.get("ffork000000000000001"), launcher)
    store.update(run.id, "SUCCEEDED", "done in the child")
    queue.put(run.wait(timeout=10).status)


def test_a_forked_child_follows_with_its_own_thread(launcher):
    run = Run(running(launcher.run_store, "ffork000000000000001"), launcher)
    watch = follower().watch(lambda: True, 0.1)  # the parent's follower thread is running
    try:
        context = multiprocessing.get_context("fork")
        queue = context.Queue()
        child = context.Process(target=_child_waits, args=(launcher.run_store.path, queue))
        child.start()
        assert queue.get(timeout=30) == "SUCCEEDED"
        child.join(30)
        assert child.exitcode == 0
    finally:
        watch.cancel()
    assert run.wait(timeout=10).status == "SUCCEEDED"


def test_a_failing_display_keeps_being_followed():
    calls = []

    def flaky():
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise OSError("display gone for a moment")
        return False

    watch = follower().watch(flaky, 0.02)
    settle(lambda: not watch.active)
    assert len(calls) == 3
