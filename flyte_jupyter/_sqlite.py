"""Open the project's SQLite files (run store, publish index) safely from many processes.

Kernels, run supervisors and the Jupyter server open the same files. Putting a new file into
WAL mode takes an exclusive lock, and SQLite reports a collision there as "database is locked"
at once instead of waiting on its busy timeout, so two processes that open a fresh file
together can fail. Opening is therefore retried, with jitter, until the timeout.

The files hold run records and bundle store locations: they are created 0600 (and an older, more
open file is tightened), and SQLite gives its ``-wal`` and ``-shm`` files the same mode.
"""

from __future__ import annotations

import random
import sqlite3
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

_BUSY_WORDS = ("locked", "busy")


def is_busy(exc: sqlite3.Error) -> bool:
    """True for "database is locked/busy" errors, which pass when the other writer is done."""
    return isinstance(exc, sqlite3.OperationalError) and any(
        word in str(exc).lower() for word in _BUSY_WORDS
    )


def connect(path: Path, schema: str, *, timeout: float = 30.0) -> sqlite3.Connection:
    """A WAL-mode autocommit connection to ``path`` with ``schema`` applied.

    Raises
    ------
    sqlite3.Error
        Anything but a passing lock, or a lock that outlasts ``timeout``.
    """
    _private_file(path)
    deadline = time.monotonic() + timeout
    while True:
        conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            # NORMAL cannot corrupt a WAL database; a power cut may drop the newest commits.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(schema)
        except sqlite3.Error as exc:
            conn.close()
            if not is_busy(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02 + random.random() * 0.08)  # noqa: S311 - jitter, not security
            continue
        return conn


def _private_file(path: Path) -> None:
    """Create the database file 0600 before SQLite does (it would use 0644 and the umask)."""
    from flyte_jupyter._private import open_private, tighten

    try:
        open_private(path, "ab").close()
    except OSError:  # not ours, read-only, a symlink: SQLite reports what matters
        return
    for suffix in ("-wal", "-shm"):
        tighten(path.with_name(path.name + suffix))
