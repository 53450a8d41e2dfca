"""The archive cache: ``<cache_dir>/bundles/fast<digest>.tar.gz`` and what vouches for it.

When this process writes an archive it records, beside it in ``fast<digest>.tar.gz.built``,
the archive's sha256, size and stat key (device, inode, size, mtime). That record is what the
kernel "built": publishing compares the archive's bytes with it (a damaged archive is never
re-published), and runs check the bytes they download from the bundle store against it, not
against the store's ``.sha256`` sidecar, which anyone who can write to the store can rewrite.

Checking an archive costs one ``stat`` and a small read while its stat key is the recorded one
(nothing wrote to it since); anything else (a changed mtime, size or inode) re-hashes it. An
archive without a record, or whose bytes no longer match, is deleted so that it is rebuilt.

Temporary files of writers that died (``.tmp-<pid>-<random>.tar.gz``) are removed by
:func:`remove_stale_temps` when the next archive is written.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import uuid
from typing import TYPE_CHECKING

from flyte_jupyter._os import pid_alive, sha256_file

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "RECORD_SUFFIX",
    "discard",
    "record",
    "remove_stale_temps",
    "temp_path",
    "verified_sha256",
]

logger = logging.getLogger(__name__)

RECORD_SUFFIX = ".built"
TEMP_PREFIX = ".tmp-"
# A writer appends to its temp file continuously; one untouched this long is a dead writer's.
STALE_TEMP_S = 15 * 60.0
# A temp file whose writer pid is gone on this machine goes sooner, once it sat this long
# (a writer in another container sharing the home has a pid we cannot see, but writes).
DEAD_WRITER_TEMP_S = 60.0


def _record_path(archive: Path) -> Path:
    return archive.with_name(archive.name + RECORD_SUFFIX)


def _stat_key(st: os.stat_result) -> list[int]:
    # not ctime: the rename into place changes it. A write that also restores the mtime is
    # caught when the bytes are hashed for publishing.
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]


def record(written: Path, archive: Path) -> str:
    """Hash ``written`` (about to be renamed to ``archive``) and record it; return its sha256.

    The record is written before the rename, so whoever sees the archive finds its record (a
    rename keeps the inode and mtime the record holds).
    """
    sha = sha256_file(written)
    _write_record(archive, sha, os.stat(written))
    return sha


def _write_record(archive: Path, sha: str, st: os.stat_result) -> None:
    data = {"sha256": sha, "size": st.st_size, "stat": _stat_key(st)}
    target = _record_path(archive)
    tmp = target.with_name(f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}.built")
    try:
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _read_record(archive: Path) -> dict[str, object] | None:
    try:
        data = json.loads(_record_path(archive).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("sha256"), str):
        return None
    return data


def verified_sha256(archive: Path) -> str | None:
    """The recorded sha256 of ``archive`` if its bytes are still the ones recorded, else None.

    None also when the archive or its record is missing. A damaged archive (bytes no longer
    match) is deleted with its record, so the caller rebuilds it.
    """
    data = _read_record(archive)
    try:
        st = os.stat(archive)
    except FileNotFoundError:
        return None
    if data is None:
        logger.info("%s has no build record; it is rebuilt", archive)
        discard(archive)
        return None
    sha = str(data["sha256"])
    if data.get("stat") == _stat_key(st):
        return sha
    # Something touched the file since it was recorded (or it was copied): look at its bytes.
    if st.st_size == data.get("size") and sha256_file(archive) == sha:
        _write_record(archive, sha, st)
        return sha
    logger.warning(
        "The cached bundle archive %s does not match what was built (sha256 %s); it was "
        "deleted and is rebuilt.",
        archive,
        sha,
    )
    discard(archive)
    return None


def discard(archive: Path) -> None:
    """Delete ``archive`` and its record (either may be missing)."""
    archive.unlink(missing_ok=True)
    _record_path(archive).unlink(missing_ok=True)


def temp_path(bundles: Path) -> Path:
    """A fresh temp file name for an archive being written (names this process's pid)."""
    return bundles / f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}.tar.gz"


def _writer_pid(name: str) -> int | None:
    head = name[len(TEMP_PREFIX) :].split("-", 1)[0]
    return int(head) if head.isdigit() else None


def remove_stale_temps(bundles: Path) -> list[str]:
    """Delete temp files left in ``bundles`` by writers that died; return their names.

    Only files named as this module names them (``.tmp-*``) are considered. A file is stale
    when nothing wrote to it for :data:`STALE_TEMP_S`, or when the pid in its name is not a
    live process and it was not written for :data:`DEAD_WRITER_TEMP_S`.
    """
    now = time.time()
    removed: list[str] = []
    try:
        listing = list(os.scandir(bundles))
    except OSError:
        return removed
    for entry in listing:
        if not entry.name.startswith(TEMP_PREFIX):
            continue
        with contextlib.suppress(OSError):
            age = now - entry.stat(follow_symlinks=False).st_mtime
            pid = _writer_pid(entry.name)
            dead = pid is not None and pid != os.getpid() and not pid_alive(pid)
            if age > STALE_TEMP_S or (dead and age > DEAD_WRITER_TEMP_S):
                os.unlink(entry.path)
                removed.append(entry.name)
    if removed:
        logger.info("Removed %d temp file(s) of dead writers in %s", len(removed), bundles)
    return removed
