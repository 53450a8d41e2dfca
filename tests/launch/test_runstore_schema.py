"""The run store's file: schema versions and migrations, and one connection per thread.

A file written by an earlier version is brought to the current schema (``PRAGMA user_version``)
when it is opened; one from a newer version is refused untouched.
"""

import contextlib
import multiprocessing
import sqlite3
import threading
import time

import pytest

from flyte_jupyter.errors import LaunchError
from flyte_jupyter.launch.liveness import lost
from flyte_jupyter.launch.model import RunRecord
from flyte_jupyter.launch.runstore import SCHEMA_VERSION, RunStore

# the runs table as the first release created it (no heartbeat_at)
OLD_RUNS = """
CREATE TABLE runs (
    id TEXT PRIMARY KEY, backend TEXT, entity TEXT, flyte_name TEXT, kind TEXT, project TEXT,
    domain TEXT, version TEXT, status TEXT, created_at REAL, updated_at REAL, url TEXT,
    notebook TEXT, bundle_digest TEXT, bundle_uri TEXT, inputs TEXT, outputs TEXT, error TEXT,
    run_dir TEXT, log_path TEXT, remote_id TEXT, extra TEXT
);
"""


def test_an_old_store_is_migrated_and_its_running_runs_show_as_lost(tmp_path):
    path = tmp_path / "runs.sqlite"
    with sqlite3.connect(path) as db:
        db.executescript(OLD_RUNS)
        db.execute(
            "INSERT INTO runs (id, backend, entity, flyte_name, kind, project, domain, version,"
            " status, created_at, updated_at, inputs, extra) VALUES"
            " ('fold0000000000000001', 'local', 'square', 'nb.square', 'task', 'p', 'd', 'v',"
            " 'RUNNING', 1, 1, '{}', '{\"pid\": 1}')"
        )
    db.close()
    store = RunStore(path)
    old = store.get("fold0000000000000001")
    assert old.status == "RUNNING"
    assert old.heartbeat_at is None
    assert lost(old)  # never heard from: shown as lost, not ended
    store.heartbeat(old.id)
    renewed = store.get(old.id)
    assert time.time() - renewed.heartbeat_at < 60
    assert not lost(renewed)
    assert renewed.status == "RUNNING"
    assert [r.id for r in RunStore(path).list()] == [old.id]  # a second opener is fine too


def _version(path):
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def test_an_old_store_gets_the_current_schema_version(tmp_path):
    path = tmp_path / "runs.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(OLD_RUNS)
    assert _version(path) == 0  # the first release wrote no version
    RunStore(path).list()
    assert _version(path) == SCHEMA_VERSION
    with contextlib.closing(sqlite3.connect(path)) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert "heartbeat_at" in columns
    assert {"runs", "events", "runs_created", "events_run"} <= tables


def test_a_store_with_leases_but_no_version_is_migrated_once(tmp_path):
    # what the release that added leases wrote: the column, and still no version
    path = tmp_path / "runs.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(OLD_RUNS.replace("extra TEXT\n", "extra TEXT, heartbeat_at REAL\n"))
    store = RunStore(path)
    store.add(_record("fold0000000000000002"))
    assert _version(path) == SCHEMA_VERSION
    assert store.get("fold0000000000000002").status == "QUEUED"


def test_a_store_from_a_newer_release_is_refused_and_left_as_it_is(tmp_path):
    path = tmp_path / "runs.sqlite"
    writer = threading.Thread(target=lambda: RunStore(path).add(_record("fold0000000000000003")))
    writer.start()  # its connection closes with it: the opens below are fresh
    writer.join()
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = path.read_bytes()
    for _ in range(2):  # every opener is told, none changes the file
        with pytest.raises(LaunchError, match=r"newer.*Upgrade flyte_jupyter") as caught:
            RunStore(path).get("fold0000000000000003")
        assert str(path) in str(caught.value)
        assert "left as it is" in str(caught.value)
    assert path.read_bytes() == before
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT id FROM runs").fetchall() == [("fold0000000000000003",)]


def _record(run_id, status="QUEUED"):
    now = time.time()
    return RunRecord(
        id=run_id,
        backend="local",
        entity="square",
        flyte_name="nb.square",
        kind="task",
        project="p",
        domain="d",
        version="v",
        status=status,
        created_at=now,
        updated_at=now,
    )


@pytest.fixture
def opened(monkeypatch):
    """The connections SQLite opens in this process, as they are opened."""
    real = sqlite3.connect
    seen = []

    def counting(*args, **kwargs):
        conn = real(*args, **kwargs)
        seen.append(threading.current_thread().name)
        return conn

    monkeypatch.setattr(sqlite3, "connect", counting)
    return seen


def test_each_thread_opens_the_store_once(tmp_path, opened):
    store = RunStore(tmp_path / "runs.sqlite")
    store.add(_record("fold0000000000000004"))
    for _ in range(50):
        store.get("fold0000000000000004")
        store.list()
    RunStore(tmp_path / "runs.sqlite").heartbeat("fold0000000000000004")  # another handle
    assert opened == ["MainThread"]

    def elsewhere():
        for _ in range(20):
            store.update("fold0000000000000004", "RUNNING")

    thread = threading.Thread(target=elsewhere, name="other")
    thread.start()
    thread.join()
    assert opened == ["MainThread", "other"]
    assert store.get("fold0000000000000004").status == "RUNNING"


def _child(path, queue):
    store = RunStore(path)  # the parent's connection is in this thread's table: not used
    store.update("fold0000000000000005", "RUNNING", "from the child")
    queue.put(store.get("fold0000000000000005").status)


def test_a_forked_child_opens_its_own_connection(tmp_path):
    path = tmp_path / "runs.sqlite"
    store = RunStore(path)
    store.add(_record("fold0000000000000005"))
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_child, args=(path, queue))
    child.start()
    assert queue.get(timeout=30) == "RUNNING"
    child.join(30)
    assert child.exitcode == 0
    record = store.get("fold0000000000000005")  # the parent's connection still works
    assert [e[2] for e in record.events] == ["submitted", "from the child"]
    store.update(record.id, "SUCCEEDED")
    assert store.get(record.id).status == "SUCCEEDED"


def test_a_store_moved_aside_is_started_anew_at_its_path(tmp_path):
    path = tmp_path / "runs.sqlite"
    store = RunStore(path)
    store.add(_record("fold0000000000000006"))
    for suffix in ("", "-wal", "-shm"):
        moved = path.with_name(path.name + suffix)
        if moved.exists():
            moved.rename(tmp_path / f"aside{suffix}")
    assert store.list() == []
    store.add(_record("fold0000000000000007"))
    assert [r.id for r in RunStore(path).list()] == ["fold0000000000000007"]


def test_a_failed_write_leaves_no_lock_behind(tmp_path):
    path = tmp_path / "runs.sqlite"
    store = RunStore(path)
    store.add(_record("fold0000000000000008"))
    with pytest.raises(LaunchError, match="No run 'nothere'"):
        store.update("nothere", "RUNNING")
    with pytest.raises(LaunchError):
        store.add(_record("fold0000000000000008"))  # the id exists: the insert fails
    # another process can write at once: this thread's connection holds no transaction
    with contextlib.closing(sqlite3.connect(path, timeout=0.5, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        other.execute("UPDATE runs SET status='RUNNING'")
        other.execute("COMMIT")
    assert store.get("fold0000000000000008").status == "RUNNING"
