"""A persistent stat cache: (path, size, mtime, ctime, inode, mode) -> content sha256.

An unchanged tree is re-checked with one ``stat`` per file and no reads. An entry is trusted
only when the file's timestamps are older than the moment it was hashed by more than the
file system's timestamp granularity (git's "racily clean" rule): otherwise a write in the
same tick as the hash could go unnoticed, and the file is hashed again.

Storage: one ``marshal`` file per bundle root under ``<cache_dir>/stat/`` (a dict of relative
path -> packed row), replaced atomically. It is only a cache: a file that cannot be read or
parsed is ignored (and logged), and two processes saving at once can only cost a re-hash.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import struct
import uuid
from typing import TYPE_CHECKING

from flyte_jupyter.bundle.probes import PACKED_KEY, RACY_NS, StatKey

if TYPE_CHECKING:
    from pathlib import Path

logger = logging.getLogger(__name__)

FORMAT = 2
_ROW = struct.Struct(f"<{PACKED_KEY.size}s32sq")
"""A row: the packed stat key, the raw sha256, and when the content was read (ns)."""

__all__ = ["RACY_NS", "StatCache", "StatKey"]


class StatCache:
    """Hashes of the files under one bundle root, keyed by their stat."""

    def __init__(self, folder: Path, prefix: str) -> None:
        name = hashlib.sha256(prefix.encode("utf-8", "surrogateescape")).hexdigest()[:32]
        self._file = folder / f"{name}.marshal"
        self._prefix = prefix
        self._loaded: os.stat_result | None = None
        self._updates: dict[str, object] = {}
        self._rows = self._read()

    def _read(self) -> dict[str, object]:
        try:
            with self._file.open("rb") as handle:
                self._loaded = os.fstat(handle.fileno())
                blob = handle.read()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            logger.warning("stat cache %s is unreadable (%s); ignoring it", self._file, exc)
            return {}
        try:
            version, prefix, rows = marshal.loads(blob)  # noqa: S302 - our own cache file
        except (ValueError, EOFError, TypeError) as exc:
            logger.warning("stat cache %s is corrupt (%s); ignoring it", self._file, exc)
            return {}
        if version != FORMAT or prefix != self._prefix or type(rows) is not dict:
            return {}
        return rows

    def lookup(self, path: str, key: StatKey) -> str | None:
        """The cached sha256 of ``path`` if its stat is unchanged and not racy, else None."""
        row = self._rows.get(path.removeprefix(self._prefix))
        if type(row) is not bytes or len(row) != _ROW.size:
            return None
        packed: bytes
        digest: bytes
        read_ns: int
        packed, digest, read_ns = _ROW.unpack(row)
        try:
            if packed != PACKED_KEY.pack(*key):
                return None
        except struct.error:  # a field out of range: never cached
            return None
        if max(key.mtime_ns, key.ctime_ns) + RACY_NS > read_ns:
            return None
        return digest.hex()

    def record(self, path: str, key: StatKey, sha256: str, read_ns: int) -> None:
        """Remember a hash of content read at ``read_ns`` or later (written by :meth:`save`)."""
        try:
            row = _ROW.pack(PACKED_KEY.pack(*key), bytes.fromhex(sha256), read_ns)
        except (struct.error, ValueError):
            return
        rel = path.removeprefix(self._prefix)
        self._rows[rel] = row
        self._updates[rel] = row

    def save(self) -> None:
        """Persist new entries; a failure only costs a future re-hash."""
        if not self._updates:
            return
        rows = self._rows
        try:
            if self._changed_on_disk():  # another process saved meanwhile: keep its rows too
                rows = self._read()
                rows.update(self._updates)
            self._file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._file.with_name(f".tmp-{uuid.uuid4().hex}")
            try:
                tmp.write_bytes(marshal.dumps((FORMAT, self._prefix, rows)))
                os.replace(tmp, self._file)
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as exc:
            logger.warning("could not save the stat cache %s: %s", self._file, exc)
        self._updates.clear()

    def _changed_on_disk(self) -> bool:
        try:
            st = os.stat(self._file)
        except FileNotFoundError:
            return False
        old = self._loaded
        return old is None or (st.st_ino, st.st_mtime_ns) != (old.st_ino, old.st_mtime_ns)
