"""Recognise an unchanged tree without walking it: a per-request memo of the last result.

After a bundle is made, ``<cache_dir>/trees/<key>`` stores, for that request (root_dir, copy
style, include patterns, generated module, local loaded modules):

* the signature of every folder whose listing the selection consulted (walked folders for
  ``all``; for ``auto`` also the folders of every module path probed, found or not) — a file
  created, removed or renamed there changes it;
* the stat key of every selected file and of every file whose content the selection read
  (ignore files, sources scanned for imports);
* the result: bundle root, entries, excluded paths, digest.

:func:`recall` stats exactly those folders and files (no listing, no ignore rules, no reads)
and returns the result only when every stat is unchanged and the archive exists; anything else
falls back to a full selection. A memo is written only when no symlink or I/O error was met and
every recorded stat is older than the selection by more than the timestamp granularity (the
racily-clean rule of :mod:`.probes`), so an equal stat cannot hide a change made in the same
tick. The file is a cache: unreadable or malformed, it is ignored (and logged).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import marshal
import os
import struct
import uuid
from array import array
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from flyte_jupyter.bundle import ignore
from flyte_jupyter.bundle.model import Excluded, ManifestEntry, archive_name
from flyte_jupyter.bundle.probes import PACKED_KEY, DirSig, dir_sig, settled, stat_key

if TYPE_CHECKING:
    from collections.abc import Sequence

    from flyte_jupyter.bundle.model import BundleRequest
    from flyte_jupyter.bundle.probes import StatKey
    from flyte_jupyter.bundle.walk import Selection

logger = logging.getLogger(__name__)

FORMAT = 1
_KEY = PACKED_KEY  # files are compared as one bytes object of packed stat keys
_SEP = "\0"  # cannot occur in a path
PlainSig = tuple[int, ...] | None
_STAT_DIR_FD = os.stat in os.supports_dir_fd
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_RULES = repr(
    (
        sorted(ignore.STANDARD_DIRS),
        ignore.STANDARD_FILES,
        ignore.SECRET_FILES,
        ignore.SECRET_PATHS,
        ignore.NOT_SECRET,
        ignore.IGNORE_FILES,
        ignore.OUTPUT_MARKER,
    )
)


class Remembered(NamedTuple):
    """The part of a Bundle that the files decide."""

    root: Path
    digest: str
    entries: tuple[ManifestEntry, ...]
    excluded: tuple[Excluded, ...]


class _Memo(NamedTuple):
    root: str
    digest: str
    folders: list[tuple[str, PlainSig]]  # FolderSig as a plain tuple, or None
    groups: list[tuple[str, str]]  # (folder, names joined by _SEP) of the files checked
    keys: bytes  # their stat keys packed, in the same order
    arcnames: str
    modes: bytes
    sizes: bytes
    shas: str
    excluded: list[tuple[str, str]]


def memo_path(cache_dir: Path, request: BundleRequest) -> Path:
    """Where the memo of ``request`` lives."""
    return cache_dir / "trees" / request_key(request)


def request_key(request: BundleRequest) -> str:
    """Hash of everything besides the files that decides the result of ``request``."""
    root = os.path.abspath(request.root_dir)
    module = request.module
    parts: list[object] = [FORMAT, _RULES, root, request.copy_style, tuple(request.include)]
    parts.append(sorted((os.path.abspath(p), why) for p, why in request.private_dirs))
    parts.append(None if module is None else (module.name, module.filename, module.source))
    if request.copy_style == "auto":
        from flyte_jupyter.bundle.auto import environment_roots

        prefix = os.path.join(root, "")
        parts.append(sorted({f for f in request.loaded_modules.values() if f.startswith(prefix)}))
        parts.append(sorted(environment_roots()))
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogateescape")).hexdigest()[:40]


def recall(memo_file: Path, bundles: Path) -> Remembered | None:
    """The remembered result if nothing it depends on changed and its archive exists."""
    memo = _load(memo_file)
    if memo is None or not _unchanged(memo):
        return None
    if not (bundles / archive_name(memo.digest)).is_file():
        return None
    try:
        entries = _entries(memo)
        excluded = tuple(Excluded(path, reason) for path, reason in memo.excluded)
    except (ValueError, TypeError) as exc:
        logger.warning("tree memo %s is malformed (%s); ignoring it", memo_file, exc)
        return None
    return Remembered(Path(memo.root), memo.digest, entries, excluded)


def _entries(memo: _Memo) -> tuple[ManifestEntry, ...]:
    count = len(memo.sizes) // 8
    columns = (
        _split(memo.arcnames, count),
        _ints(memo.modes),
        _ints(memo.sizes),
        _split(memo.shas, count),
    )
    if any(len(column) != count for column in columns):
        raise ValueError("columns of different lengths")
    new = tuple.__new__  # skips the named tuple's Python-level __new__: one per file adds up
    return tuple([new(ManifestEntry, row) for row in zip(*columns, strict=True)])


def _load(memo_file: Path) -> _Memo | None:
    try:
        blob = memo_file.read_bytes()
    except OSError:
        return None
    try:
        data = marshal.loads(blob)  # noqa: S302 - our own cache file
        if type(data) is not tuple or len(data) != len(_Memo._fields) + 1 or data[0] != FORMAT:
            return None
        memo = _Memo(*data[1:])
    except (ValueError, EOFError, TypeError) as exc:
        logger.warning("tree memo %s is unreadable (%s); ignoring it", memo_file, exc)
        return None
    types = (str, str, list, list, bytes, str, bytes, bytes, str, list)
    if any(type(value) is not kind for value, kind in zip(memo, types, strict=True)):
        logger.warning("tree memo %s is malformed; ignoring it", memo_file)
        return None
    return memo


def _unchanged(memo: _Memo) -> bool:
    try:
        if any(dir_sig(folder) != sig for folder, sig in memo.folders):
            return False
        now = b"".join(chain.from_iterable(_packed_stats(*group) for group in memo.groups))
    except (OSError, ValueError, TypeError, struct.error):
        return False
    return now == memo.keys


def _packed_stats(folder: str, names: str) -> list[bytes]:
    """The packed stat keys of the files ``names`` in ``folder``, statted relative to it."""
    pack = _KEY.pack
    if not _STAT_DIR_FD:  # pragma: no cover - Windows
        stats = map(os.stat, (os.path.join(folder, name) for name in names.split(_SEP)))
        return [pack(*stat_key(st)) for st in stats]
    fd = os.open(folder, _DIR_FLAGS)  # one path lookup per folder, not one per file
    try:
        stats = map(functools.partial(os.stat, dir_fd=fd), names.split(_SEP))
        return [
            pack(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)
            for st in stats
        ]
    finally:
        os.close(fd)


def remember(
    memo_file: Path,
    selection: Selection,
    result: Remembered,
    keys: Sequence[StatKey | None],
) -> None:
    """Store the memo of a result (or drop a stale one when this result may not be memoised)."""
    files = _vouched_files(selection, keys)
    try:
        if files is None:
            memo_file.unlink(missing_ok=True)
            return
        groups = _grouped(files)
        packed = b"".join(_KEY.pack(*key) for _, group in groups for key in group.values())
        entries = result.entries
        payload = (
            FORMAT,
            str(result.root),
            result.digest,
            _plain_folders(selection.probes.folders),
            [(folder, _SEP.join(names)) for folder, names in groups],
            packed,
            _SEP.join(e.path for e in entries),
            array("q", (e.mode for e in entries)).tobytes(),
            array("q", (e.size for e in entries)).tobytes(),
            _SEP.join(e.sha256 for e in entries),
            [(x.path, x.reason) for x in result.excluded],
        )
        memo_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_file.with_name(f".tmp-{uuid.uuid4().hex}")
        try:
            tmp.write_bytes(marshal.dumps(payload))
            os.replace(tmp, memo_file)
        finally:
            tmp.unlink(missing_ok=True)
    except (OSError, struct.error, ValueError) as exc:
        logger.warning("could not save the tree memo %s: %s", memo_file, exc)


def _vouched_files(
    selection: Selection, keys: Sequence[StatKey | None]
) -> dict[str, StatKey] | None:
    """Stat key of every file the result depends on, or None when it may not be memoised."""
    probes = selection.probes
    if not probes.memoizable:
        return None
    files = dict(probes.contents)
    for ref, key in zip(selection.files, keys, strict=True):
        if key is not None and files.setdefault(ref.path or "", key) != key:
            return None  # read by the selection, then changed before it was hashed
    sigs = [sig for sig in probes.folders.values() if sig is not None]
    times = chain(
        (sig.mtime_ns for sig in sigs),
        (sig.ctime_ns for sig in sigs),
        (key.mtime_ns for key in files.values()),
        (key.ctime_ns for key in files.values()),
    )
    return files if settled(times, probes.started_ns) else None


def _plain_folders(folders: dict[str, DirSig]) -> list[tuple[str, PlainSig]]:
    """The folder signatures as plain tuples: ``marshal`` rejects a named tuple."""
    return [(path, None if sig is None else tuple(sig)) for path, sig in folders.items()]


def _grouped(files: dict[str, StatKey]) -> list[tuple[str, dict[str, StatKey]]]:
    """The files by folder: ``[(folder, {name: key})]``."""
    groups: dict[str, dict[str, StatKey]] = {}
    for path, key in files.items():
        folder, name = os.path.split(path)
        groups.setdefault(folder, {})[name] = key
    return list(groups.items())


def _split(joined: str, count: int) -> list[str]:
    return joined.split(_SEP) if count else []


def _ints(packed: bytes) -> list[int]:
    values = array("q")
    values.frombytes(packed)  # ValueError unless a whole number of items
    return values.tolist()
