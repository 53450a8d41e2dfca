"""The run store: every run and its status history, in SQLite (WAL) under the home folder.

Kernels, run supervisors and the Jupyter server open the same file; WAL lets them read while
one writes. A row is written once the run has been submitted; status changes append events.
Columns added since the first release (``heartbeat_at``) are added to older files when they
are opened.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import time
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from flyte_jupyter._sqlite import connect
from flyte_jupyter.errors import LaunchError
from flyte_jupyter.launch.model import TERMINAL, RunRecord

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, backend TEXT, entity TEXT, flyte_name TEXT, kind TEXT, project TEXT,
    domain TEXT, version TEXT, status TEXT, created_at REAL, updated_at REAL, url TEXT,
    notebook TEXT, bundle_digest TEXT, bundle_uri TEXT, inputs TEXT, outputs TEXT, error TEXT,
    run_dir TEXT, log_path TEXT, remote_id TEXT, extra TEXT, heartbeat_at REAL
);
CREATE INDEX IF NOT EXISTS runs_created ON runs (created_at);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT, at REAL, status TEXT, message TEXT
);
CREATE INDEX IF NOT EXISTS events_run ON events (run_id, at);
"""
_JSON_FIELDS = ("inputs", "outputs", "extra")
_COLUMNS = tuple(f.name for f in fields(RunRecord) if f.name != "events")
# Only forward moves: a late "RUNNING" must not overwrite "SUCCEEDED".
_RANK = {"QUEUED": 0, "RUNNING": 1, "SUCCEEDED": 2, "FAILED": 2, "ABORTED": 2}
# Columns that stores made by earlier versions lack: (name, SQL type).
_ADDED_COLUMNS = (("heartbeat_at", "REAL"),)


class RunStore:
    """Read and write runs in ``<home>/runs.sqlite``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._migrated = False

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = connect(self.path, _SCHEMA)
        except sqlite3.DatabaseError as exc:
            msg = f"The run store {self.path} is unreadable ({exc}). Move it aside to start anew."
            raise LaunchError(msg) from exc
        except (OSError, sqlite3.Error) as exc:
            msg = f"Cannot open the run store {self.path}: {exc}. Check FLYTE_JUPYTER_HOME."
            raise LaunchError(msg) from exc
        try:
            if not self._migrated:
                _add_missing_columns(conn)
                self._migrated = True
            yield conn
        except sqlite3.DatabaseError as exc:
            msg = f"The run store {self.path} is unreadable ({exc}). Move it aside to start anew."
            raise LaunchError(msg) from exc
        finally:
            conn.close()

    def add(self, record: RunRecord, message: str = "submitted") -> None:
        """Insert a new run with its first event, in one transaction."""
        values = [_encode(name, getattr(record, name)) for name in _COLUMNS]
        marks = ",".join("?" * len(_COLUMNS))
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(f"INSERT INTO runs ({','.join(_COLUMNS)}) VALUES ({marks})", values)  # noqa: S608 - fixed column names
            db.execute(
                "INSERT INTO events VALUES (?,?,?,?)",
                (record.id, record.created_at, record.status, message),
            )
            db.execute("COMMIT")

    def update(
        self, run_id: str, status: str | None = None, message: str = "", **changes: Any
    ) -> None:
        """Change fields of a run; a status change is recorded as an event.

        A status only moves forward (QUEUED < RUNNING < terminal); a terminal status is final.
        """
        now = time.time()
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                db.execute("ROLLBACK")
                msg = f"No run {run_id!r} in {self.path}."
                raise LaunchError(msg)
            if status is not None and (row[0] in TERMINAL or _RANK[status] < _RANK[row[0]]):
                status = None  # a late or repeated report: keep what is recorded
            if status is not None:
                changes["status"] = status
                db.execute("INSERT INTO events VALUES (?,?,?,?)", (run_id, now, status, message))
            changes["updated_at"] = now
            assignments = ",".join(f"{key}=?" for key in changes)
            values = [_encode(key, value) for key, value in changes.items()]
            db.execute(f"UPDATE runs SET {assignments} WHERE id=?", [*values, run_id])  # noqa: S608 - keys are RunRecord fields
            db.execute("COMMIT")

    def heartbeat(self, run_id: str) -> None:
        """Renew the lease of a run's supervisor (the run's other fields stay as they are)."""
        with self._db() as db:
            db.execute(
                "UPDATE runs SET heartbeat_at=? WHERE id=? AND status NOT IN (?,?,?)",
                (time.time(), run_id, *sorted(TERMINAL)),
            )

    def get(self, run_id: str) -> RunRecord | None:
        """The run with this id, with its events, or None."""
        with self._db() as db:
            db.row_factory = sqlite3.Row
            row = db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                return None
            events = db.execute(
                "SELECT at, status, message FROM events WHERE run_id=? ORDER BY at, rowid",
                (run_id,),
            ).fetchall()
        return _decode(row, tuple((e["at"], e["status"], e["message"]) for e in events))

    def list(
        self,
        *,
        status: str | None = None,
        notebook: str | None = None,
        entity: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Runs, newest first, optionally filtered."""
        where, params = [], []
        for column, value in (("status", status), ("notebook", notebook), ("entity", entity)):
            if value is not None:
                where.append(f"{column}=?")
                params.append(value)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        query = f"SELECT * FROM runs {clause} ORDER BY created_at DESC LIMIT ? OFFSET ?"  # noqa: S608 - fixed columns
        with self._db() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(query, [*params, limit, offset]).fetchall()
        return [_decode(row, ()) for row in rows]


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    """Bring a run store made by an earlier version up to this schema."""
    present = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    for name, kind in _ADDED_COLUMNS:
        if name in present:
            continue
        try:
            conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
        except sqlite3.OperationalError as exc:  # another process added it a moment ago
            if "duplicate column" not in str(exc).lower():
                raise
        logger.info("Added column %s to the run store", name)


def _encode(name: str, value: Any) -> Any:
    if name in _JSON_FIELDS:
        return None if value is None else json.dumps(dict(value), sort_keys=True)
    return value


def _decode(row: sqlite3.Row, events: tuple[tuple[float, str, str], ...]) -> RunRecord:
    values = {name: row[name] for name in _COLUMNS}
    for name in _JSON_FIELDS:
        raw = values[name]
        values[name] = json.loads(raw) if raw else ({} if name != "outputs" else None)
    return RunRecord(**values, events=events)
