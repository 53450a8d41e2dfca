"""The run store: every run and its status history, in SQLite (WAL) under the home folder.

Kernels, run supervisors and the Jupyter server open the same file; WAL lets them read while
one writes. A row is written once the run has been submitted; status changes append events.

Each thread of each process keeps one connection per file, opened (WAL, schema) once: a
kernel that follows runs reads the run store many times a second and must not reopen it each
time. A forked child never uses its parent's connections, and a file moved aside or replaced
is reopened at its path.

The file's ``PRAGMA user_version`` is its schema version. Opening brings an older file up to
:data:`SCHEMA_VERSION` one step at a time, in one transaction; version 0 is a file from before
versioning (perhaps without the ``heartbeat_at`` column). A file from a newer flyte_jupyter is
left untouched and refused with a request to upgrade.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from flyte_jupyter._sqlite import connect
from flyte_jupyter.errors import LaunchError
from flyte_jupyter.launch.model import TERMINAL, RunRecord

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

logger = logging.getLogger(__name__)

# The tables as the first release created them; later steps change them.
_FIRST_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, backend TEXT, entity TEXT, flyte_name TEXT, kind TEXT, project TEXT,
    domain TEXT, version TEXT, status TEXT, created_at REAL, updated_at REAL, url TEXT,
    notebook TEXT, bundle_digest TEXT, bundle_uri TEXT, inputs TEXT, outputs TEXT, error TEXT,
    run_dir TEXT, log_path TEXT, remote_id TEXT, extra TEXT
)""",
    "CREATE INDEX IF NOT EXISTS runs_created ON runs (created_at)",
    "CREATE TABLE IF NOT EXISTS events (run_id TEXT, at REAL, status TEXT, message TEXT)",
    "CREATE INDEX IF NOT EXISTS events_run ON events (run_id, at)",
)
# Columns that files of the first release lack: (name, SQL type). The release that added
# them did so at every open, without a version; version 1 has them all.
_ADDED_COLUMNS = (("heartbeat_at", "REAL"),)
_JSON_FIELDS = ("inputs", "outputs", "extra")
_COLUMNS = tuple(f.name for f in fields(RunRecord) if f.name != "events")
# Only forward moves: a late "RUNNING" must not overwrite "SUCCEEDED".
_RANK = {"QUEUED": 0, "RUNNING": 1, "SUCCEEDED": 2, "FAILED": 2, "ABORTED": 2}


def _to_version_1(conn: sqlite3.Connection) -> None:
    """Version 0 (no version; a fresh file, the first release, or one with leases) to 1."""
    for statement in _FIRST_SCHEMA:
        conn.execute(statement)
    present = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    for name, kind in _ADDED_COLUMNS:
        if name not in present:
            conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
            logger.info("Added column %s to the run store", name)


# _STEPS[n] brings a file from version n to n + 1. Append a step to change the schema; never
# edit one that has shipped (files in the field went through it).
_STEPS: tuple[Callable[[sqlite3.Connection], None], ...] = (_to_version_1,)
SCHEMA_VERSION = len(_STEPS)


@dataclass
class _Open:
    """One thread's connection to one file, and what it was opened on."""

    conn: sqlite3.Connection
    pid: int
    identity: tuple[int, int]  # (st_dev, st_ino) of the file when opened


class _Connections(threading.local):
    """The open run-store connections of the current thread, by path."""

    def __init__(self) -> None:
        self.by_path: dict[str, _Open] = {}


_THREAD = _Connections()
# Connections a forked child inherited: SQLite forbids using them in the child, and closing
# them there could disturb the parent's locks, so they are kept, unused, until the child exits.
_INHERITED: list[sqlite3.Connection] = []


class RunStore:
    """Read and write runs in ``<home>/runs.sqlite``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connection(self) -> sqlite3.Connection:
        """The current thread's connection to the file, opened and migrated on first use."""
        key = str(self.path)
        try:
            stat = self.path.stat()
            identity: tuple[int, int] | None = (stat.st_dev, stat.st_ino)
        except OSError:
            identity = None
        held = _THREAD.by_path.get(key)
        if held is not None:
            if held.pid != os.getpid():  # inherited through fork: never touch it
                _INHERITED.append(held.conn)
                del _THREAD.by_path[key]
            elif held.identity == identity:
                return held.conn
            else:  # the file was moved aside, deleted or replaced: open the one at the path
                _forget(key)
        conn = self._open()
        stat = self.path.stat()
        _THREAD.by_path[key] = _Open(conn, os.getpid(), (stat.st_dev, stat.st_ino))
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = connect(self.path, "")
        except sqlite3.DatabaseError as exc:
            raise self._unreadable(exc) from exc
        except (OSError, sqlite3.Error) as exc:
            msg = f"Cannot open the run store {self.path}: {exc}. Check FLYTE_JUPYTER_HOME."
            raise LaunchError(msg) from exc
        try:
            _migrate(conn, self.path)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self._unreadable(exc) from exc
        except BaseException:
            conn.close()
            raise
        conn.row_factory = sqlite3.Row
        return conn

    def _unreadable(self, exc: sqlite3.Error) -> LaunchError:
        return LaunchError(
            f"The run store {self.path} is unreadable ({exc}). Move it aside to start anew."
        )

    @contextlib.contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        try:
            yield conn
        except BaseException as exc:
            if conn.in_transaction:  # never leave this thread's connection holding a lock
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    _forget(str(self.path))
            if isinstance(exc, sqlite3.DatabaseError):
                _forget(str(self.path))  # the next call opens the file anew
                raise self._unreadable(exc) from exc
            raise

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, rolled back if anything in it raises."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            yield db
            db.execute("COMMIT")

    def add(self, record: RunRecord, message: str = "submitted") -> None:
        """Insert a new run with its first event, in one transaction."""
        values = [_encode(name, getattr(record, name)) for name in _COLUMNS]
        marks = ",".join("?" * len(_COLUMNS))
        with self._transaction() as db:
            db.execute(f"INSERT INTO runs ({','.join(_COLUMNS)}) VALUES ({marks})", values)  # noqa: S608 - fixed column names
            db.execute(
                "INSERT INTO events VALUES (?,?,?,?)",
                (record.id, record.created_at, record.status, message),
            )

    def update(
        self, run_id: str, status: str | None = None, message: str = "", **changes: Any
    ) -> None:
        """Change fields of a run; a status change is recorded as an event.

        A status only moves forward (QUEUED < RUNNING < terminal); a terminal status is final.
        """
        now = time.time()
        with self._transaction() as db:
            row = db.execute("SELECT status FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
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

    def add_extra(self, run_id: str, **items: Any) -> None:
        """Set ``items`` in the run's ``extra``, keeping what others wrote there meanwhile."""
        with self._transaction() as db:
            row = db.execute("SELECT extra FROM runs WHERE id=?", (run_id,)).fetchone()
            if row is None:
                msg = f"No run {run_id!r} in {self.path}."
                raise LaunchError(msg)
            extra = {**(json.loads(row[0]) if row[0] else {}), **items}
            db.execute(
                "UPDATE runs SET extra=?, updated_at=? WHERE id=?",
                (_encode("extra", extra), time.time(), run_id),
            )

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
            rows = db.execute(query, [*params, limit, offset]).fetchall()
        return [_decode(row, ()) for row in rows]


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the file at ``path`` to :data:`SCHEMA_VERSION`, or refuse a newer one.

    Raises
    ------
    LaunchError
        The file was written by a newer flyte_jupyter (it is left as it is).
    """
    version = _version(conn, path)
    if version == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")  # one opener migrates; the others wait, then see it done
    try:
        version = _version(conn, path)
        for step in range(version, SCHEMA_VERSION):
            _STEPS[step](conn)
            conn.execute(f"PRAGMA user_version = {step + 1}")
            logger.info("Run store %s: schema version %d -> %d", path, step, step + 1)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _version(conn: sqlite3.Connection, path: Path) -> int:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        msg = (
            f"The run store {path} has schema version {version}, newer than the {SCHEMA_VERSION} "
            "this flyte_jupyter knows: a newer flyte_jupyter wrote it. Upgrade flyte_jupyter "
            "(`pip install -U flyte_jupyter`) in this environment, the kernel's and the Jupyter "
            "server's alike. The file was left as it is."
        )
        raise LaunchError(msg)
    return version


def _forget(key: str) -> None:
    """Close and drop this thread's connection to ``key`` (opened anew when next needed)."""
    held = _THREAD.by_path.pop(key, None)
    if held is not None and held.pid == os.getpid():
        with contextlib.suppress(sqlite3.Error):
            held.conn.close()


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
