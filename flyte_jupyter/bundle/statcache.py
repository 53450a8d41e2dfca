"""A persistent stat cache: (path, size, mtime, ctime, inode, mode) -> content sha256.

An unchanged tree is re-checked with one ``stat`` per file and no reads. An entry is trusted
only when the file's timestamps are older than the moment it was hashed by more than the
file system's timestamp granularity (git's "racily clean" rule): otherwise a write in the
same tick as the hash could go unnoticed, and the file is hashed again.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable
    from pathlib import Path

logger = logging.getLogger(__name__)

RACY_NS = 2_000_000_000  # coarse file systems store mtimes in 1-2 s steps
_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY, dev INTEGER, ino INTEGER, size INTEGER, mtime_ns INTEGER,
    ctime_ns INTEGER, mode INTEGER, sha256 TEXT, hashed_ns INTEGER
)
"""


@dataclass(frozen=True)
class StatKey:
    """What must be unchanged for a cached hash to stay valid."""

    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int
    mode: int

    @classmethod
    def of(cls, st: os.stat_result) -> StatKey:
        """The key of a stat result."""
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


class StatCache:
    """Hashes of files keyed by their stat, persisted in SQLite under the cache folder."""

    def __init__(self, db_path: Path, prefix: str) -> None:
        self._path = db_path
        self._prefix = prefix
        self._hits: dict[str, tuple[StatKey, str, int]] = {}
        self._updates: dict[str, tuple[StatKey, str, int]] = {}
        self._load()

    def _connect(self) -> sqlite3.Connection:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self._path, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_SCHEMA)
        return conn

    def _load(self) -> None:
        try:
            with contextlib.closing(self._connect()) as conn:
                rows = conn.execute(
                    "SELECT path, dev, ino, size, mtime_ns, ctime_ns, mode, sha256, hashed_ns "
                    "FROM files WHERE path >= ? AND path < ?",
                    (self._prefix, self._prefix + "\uffff"),
                ).fetchall()
        except sqlite3.DatabaseError as exc:
            logger.warning("stat cache %s is unreadable (%s); starting afresh", self._path, exc)
            self._path.unlink(missing_ok=True)
            return
        for path, dev, ino, size, mtime, ctime, mode, digest, hashed in rows:
            self._hits[path] = (StatKey(dev, ino, size, mtime, ctime, mode), digest, hashed)

    def lookup(self, path: str, key: StatKey) -> str | None:
        """The cached sha256 of ``path`` if its stat is unchanged and not racy, else None."""
        hit = self._hits.get(path)
        if hit is None or hit[0] != key:
            return None
        hashed_ns = hit[2]
        if max(key.mtime_ns, key.ctime_ns) + RACY_NS > hashed_ns:
            return None
        return hit[1]

    def record(self, path: str, key: StatKey, sha256: str) -> None:
        """Remember a freshly computed hash (written by :meth:`save`)."""
        entry = (key, sha256, time.time_ns())
        self._hits[path] = entry
        self._updates[path] = entry

    def save(self) -> None:
        """Persist new entries in one transaction; a failure only costs a future re-hash."""
        if not self._updates:
            return
        rows: Iterable[tuple[object, ...]] = (
            (p, k.dev, k.ino, k.size, k.mtime_ns, k.ctime_ns, k.mode, d, h)
            for p, (k, d, h) in self._updates.items()
        )
        try:
            with contextlib.closing(self._connect()) as conn, conn:
                conn.executemany("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?)", rows)
        except sqlite3.Error as exc:
            logger.warning("could not save the stat cache %s: %s", self._path, exc)
        self._updates.clear()
