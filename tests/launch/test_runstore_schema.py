"""A run store written by an earlier version gains the lease column when it is opened."""

import sqlite3
import time

from flyte_jupyter.launch.liveness import lost
from flyte_jupyter.launch.runstore import RunStore

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
