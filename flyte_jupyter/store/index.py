"""The publish index: a local SQLite file of which bundle is in which bundle store.

It lives at ``<home>/index.sqlite``, beside (and apart from) the run store ``runs.sqlite``;
the bundle stores it describes are the folders and buckets of the ``store`` setting.

One table, keyed by ``(store_url, digest)``. A row is written only after its object is fully
published, so a row never claims an object that was not there when it was written; rows can
still go stale (someone deletes the object), which is why callers re-check rows older than
``verify_after`` seconds. The database runs in WAL mode so that several kernels can use it at
once. A corrupt file is renamed aside (with a warning) and replaced by an empty index: the
index is a cache, losing it costs one existence check per bundle.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from flyte_jupyter._sqlite import connect, is_busy
from flyte_jupyter.errors import StoreError
from flyte_jupyter.redaction import redacting_logger

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = ["IndexRow", "PublishIndex"]

logger = redacting_logger(__name__)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS published (
    store_url    TEXT NOT NULL,
    digest       TEXT NOT NULL,
    uri          TEXT NOT NULL,
    sha256       TEXT NOT NULL,
    size         INTEGER NOT NULL,
    published_at REAL NOT NULL,
    verified_at  REAL NOT NULL,
    PRIMARY KEY (store_url, digest)
)
"""
# SQLITE_CORRUPT and SQLITE_NOTADB: the file is damaged or is not a database at all.
_CORRUPT_CODES = frozenset({11, 26})
_CORRUPT_WORDS = ("file is not a database", "malformed", "corrupt")
_BUSY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class IndexRow:
    """One published archive, as recorded in the publish index."""

    store_url: str
    digest: str
    uri: str
    sha256: str
    size: int
    published_at: float
    verified_at: float


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code in _CORRUPT_CODES
    return any(word in str(exc).lower() for word in _CORRUPT_WORDS)


class PublishIndex:
    """The publish index file at ``path`` (created on first use, with its parent folder).

    Parameters
    ----------
    path
        Where the SQLite file lives, e.g. ``~/.flyte_jupyter/index.sqlite``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        # One connection per process, kept open: closing the last connection to a WAL
        # database checkpoints it (with fsyncs), which cost ~10 ms per operation.
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = connect(self.path, _SCHEMA, timeout=_BUSY_TIMEOUT_S)
        self._conn, self._pid = conn, os.getpid()
        return conn

    def close(self) -> None:
        """Close the connection (it is reopened on next use)."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.close()
        self._conn = None

    def _run(self, op: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``op`` on the connection; rebuild the index once if the file is corrupt."""
        with self._lock:
            for attempt in range(2):
                try:
                    return op(self._connection())
                except sqlite3.DatabaseError as exc:  # noqa: PERF203 - at most two passes
                    self._drop()
                    if attempt == 0 and is_busy(exc):
                        continue  # another process held the lock past our wait: once more
                    if attempt == 0 and _is_corrupt(exc):
                        self._set_aside(exc)
                        continue
                    raise self._error(exc) from exc
                except OSError as exc:
                    raise self._error(exc) from exc
            raise AssertionError  # pragma: no cover - the loop returns or raises

    def _error(self, exc: Exception) -> StoreError:
        return StoreError(
            f"Cannot use the publish index {self.path} ({exc}): the local record of which bundles "
            "are in which bundle store. Make its folder writable, or delete the file (it is "
            "only a cache of what was uploaded where)."
        )

    def _set_aside(self, exc: sqlite3.DatabaseError) -> None:
        stamp = f"{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}"
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        logger.warning(
            "The publish index %s is corrupt (%s); moved it to %s and started an empty one. "
            "Bundles will be re-checked at their bundle store once.",
            self.path,
            exc,
            aside,
        )
        # Another process may have moved it already: then the next attempt finds a fresh file.
        for suffix in ("", "-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            with contextlib.suppress(FileNotFoundError):
                side.replace(aside.with_name(aside.name + suffix))

    def get(self, store_url: str, digest: str) -> IndexRow | None:
        """Return the row for ``digest`` in ``store_url``, or None."""

        def op(conn: sqlite3.Connection) -> IndexRow | None:
            row = conn.execute(
                "SELECT store_url, digest, uri, sha256, size, published_at, verified_at "
                "FROM published WHERE store_url = ? AND digest = ?",
                (store_url, digest),
            ).fetchone()
            return None if row is None else IndexRow(*row)

        return self._run(op)

    def put(self, row: IndexRow) -> None:
        """Insert or replace ``row``."""

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO published VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    row.store_url,
                    row.digest,
                    row.uri,
                    row.sha256,
                    row.size,
                    row.published_at,
                    row.verified_at,
                ),
            )

        self._run(op)

    def touch(self, store_url: str, digest: str, verified_at: float) -> None:
        """Record that the object of ``digest`` was seen in the bundle store at ``verified_at``."""

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE published SET verified_at = ? WHERE store_url = ? AND digest = ?",
                (verified_at, store_url, digest),
            )

        self._run(op)

    def delete(self, store_url: str, digest: str) -> None:
        """Forget ``digest`` in ``store_url`` (its object is gone or bad)."""

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "DELETE FROM published WHERE store_url = ? AND digest = ?", (store_url, digest)
            )

        self._run(op)
