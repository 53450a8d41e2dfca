"""Write a byte-deterministic ``tar.gz``: same files, same bytes, on any host and core count.

* tar: PAX format (pinned), members sorted by arcname, ``mtime=0``, ``uid=gid=0``, empty
  user/group names, modes 0644/0755 only, regular files only (links inside root_dir are
  stored as the files they point to).
* gzip: one member with ``mtime=0``, no file name, OS byte 255, compressed in-process.
  Compression runs on worker threads in fixed 1 MiB blocks, each primed with the last 32 KiB
  of the block before it (pigz's scheme), so the bytes depend on the input alone: never on the
  number of threads, and never on whether pigz happens to be installed.
* Hashes are computed from the very bytes written into the archive, so a file that changes
  while it is read cannot make the manifest describe different content than the archive holds.
"""

from __future__ import annotations

import collections
import hashlib
import os
import struct
import tarfile
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import IO, TYPE_CHECKING

from flyte_jupyter.bundle.manifest import normal_mode
from flyte_jupyter.bundle.model import ManifestEntry
from flyte_jupyter.bundle.statcache import StatKey
from flyte_jupyter.errors import FileChangedError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from flyte_jupyter.bundle.walk import FileRef

BLOCK = 1 << 20
WINDOW = 32 * 1024
LEVEL = 6
CHUNK = 1 << 20
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # deflate, no flags, mtime 0, OS=255


def _deflate(block: bytes, zdict: bytes, level: int, *, final: bool) -> bytes:
    if zdict:
        comp = zlib.compressobj(level, zlib.DEFLATED, -15, 8, zlib.Z_DEFAULT_STRATEGY, zdict)
    else:
        comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    return comp.compress(block) + comp.flush(zlib.Z_FINISH if final else zlib.Z_SYNC_FLUSH)


class BlockGzipWriter:
    """A write-only gzip stream whose bytes do not depend on how many threads compress it."""

    def __init__(self, raw: IO[bytes], *, level: int = LEVEL, threads: int | None = None) -> None:
        self._raw = raw
        self._level = level
        self._threads = max(1, threads or min(8, os.cpu_count() or 1))
        self._pool: ThreadPoolExecutor | None = None
        self._pending = bytearray()
        self._tail = b""
        self._crc = 0
        self._size = 0
        self._inflight: collections.deque[Future[bytes]] = collections.deque()
        raw.write(_GZIP_HEADER)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Buffer ``data``; full blocks go to the compressor threads."""
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        self._pending += data
        while len(self._pending) >= BLOCK:
            block = bytes(self._pending[:BLOCK])
            del self._pending[:BLOCK]
            self._submit(block, final=False)
        return len(data)

    def _submit(self, block: bytes, *, final: bool) -> None:
        zdict, self._tail = self._tail, block[-WINDOW:]
        if self._threads == 1:
            self._raw.write(_deflate(block, zdict, self._level, final=final))
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="fj-gzip")
        self._inflight.append(self._pool.submit(_deflate, block, zdict, self._level, final=final))
        while len(self._inflight) > 2 * self._threads:  # bound memory: a few blocks in flight
            self._raw.write(self._inflight.popleft().result())

    def close(self) -> None:
        """Compress what is left, write the trailer (CRC-32 and size mod 2**32)."""
        self._submit(bytes(self._pending), final=True)
        self._pending.clear()
        try:
            while self._inflight:
                self._raw.write(self._inflight.popleft().result())
        finally:
            if self._pool is not None:
                self._pool.shutdown()
        self._raw.write(struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF))


def _tarinfo(arcname: str, size: int, mode: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(arcname)
    info.size = size
    info.mode = mode
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


class _HashingReader:
    """Reads exactly what tarfile asks for, hashing it on the way."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.sha = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.sha.update(data)
        return data


Written = tuple[ManifestEntry, StatKey | None]


def write_archive(
    files: Sequence[FileRef],
    dest: Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    total: int = 0,
) -> list[Written]:
    """Write ``files`` (already sorted) to ``dest``; return their manifest entries.

    Raises
    ------
    FileChangedError
        A file vanished, or its size or timestamps changed while it was being read.
    """
    written: list[Written] = []
    done = 0
    with dest.open("wb") as raw:
        gz = BlockGzipWriter(raw)
        with tarfile.open(fileobj=gz, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
            for ref in files:
                entry, key = _add(tar, ref)
                written.append((entry, key))
                done += entry.size
                if progress is not None:
                    progress(done, total)
        gz.close()
    return written


def _add(tar: tarfile.TarFile, ref: FileRef) -> Written:
    if ref.data is not None:
        tar.addfile(_tarinfo(ref.arcname, len(ref.data), 0o644), _BytesReader(ref.data))
        digest = hashlib.sha256(ref.data).hexdigest()
        return ManifestEntry(ref.arcname, 0o644, len(ref.data), digest), None
    assert ref.path is not None  # noqa: S101 - FileRef holds a path or data
    try:
        handle = ref.path.open("rb")
    except FileNotFoundError as exc:
        msg = f"{ref.path} vanished while it was being bundled; nothing was published. Run again."
        raise FileChangedError(msg) from exc
    with handle:
        before = os.fstat(handle.fileno())
        mode = normal_mode(before.st_mode)
        reader = _HashingReader(handle)
        try:
            tar.addfile(_tarinfo(ref.arcname, before.st_size, mode), reader)
        except OSError as exc:  # tarfile: "unexpected end of data" when the file shrank
            raise _changed(ref) from exc
        after = os.fstat(handle.fileno())
        if handle.read(1) or StatKey.of(after) != StatKey.of(before):
            raise _changed(ref)
    entry = ManifestEntry(ref.arcname, mode, before.st_size, reader.sha.hexdigest())
    return entry, StatKey.of(before)


def _changed(ref: FileRef) -> FileChangedError:
    return FileChangedError(
        f"{ref.path} changed while it was being bundled; nothing was published. "
        "Wait for whatever writes it to finish, then run again."
    )


class _BytesReader:
    def __init__(self, data: bytes) -> None:
        self._view = memoryview(data)
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._view) if size < 0 else self._pos + size
        chunk = bytes(self._view[self._pos : end])
        self._pos += len(chunk)
        return chunk
