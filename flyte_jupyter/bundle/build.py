"""Make a bundle: select files, hash them (through the stat cache), write the archive once.

The archive is cached as ``<cache_dir>/bundles/fast<digest>.tar.gz``. When every file's hash
comes from the stat cache and that archive exists, nothing is read and nothing is written.
When the tree memo (:mod:`.memo`) shows that nothing the last selection consulted changed,
not even the tree is walked: one ``stat`` per recorded folder and file is all it costs.

Files the stat cache cannot vouch for are hashed first (a read, much cheaper than compressing)
to find out whether their archive exists already, unless ``bundles`` holds no archive at all:
then none can match, and they are hashed once, while the archive is written.

A cached archive is used only while it still has the bytes recorded when it was written
(:mod:`.archives`); a damaged one is deleted and rebuilt, never handed on to be published.
"""

from __future__ import annotations

import hashlib
import heapq
import logging
import os
import time
from operator import attrgetter
from typing import TYPE_CHECKING

from flyte_jupyter.bundle import archives
from flyte_jupyter.bundle.manifest import manifest_digest, normal_mode
from flyte_jupyter.bundle.memo import Remembered, memo_path, recall, remember
from flyte_jupyter.bundle.model import Bundle, ManifestEntry, archive_name
from flyte_jupyter.bundle.probes import stat_key
from flyte_jupyter.bundle.statcache import StatCache
from flyte_jupyter.bundle.tarball import unreadable, write_archive
from flyte_jupyter.bundle.walk import select
from flyte_jupyter.capture.origins import CellOrigins
from flyte_jupyter.errors import BundleTooLargeError, FileChangedError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from flyte_jupyter.bundle.model import BundleLimits, BundleRequest, FileRef
    from flyte_jupyter.bundle.probes import StatKey
    from flyte_jupyter.bundle.walk import Selection
    from flyte_jupyter.progress import Progress

logger = logging.getLogger(__name__)
ATTEMPTS = 3
_READ = 1 << 20
Keys = list["StatKey | None"]


def make_bundle(
    request: BundleRequest,
    *,
    cache_dir: Path,
    progress: Progress | None = None,
) -> Bundle:
    """Bundle the files ``request`` selects into ``cache_dir/bundles``.

    Parameters
    ----------
    request
        What to bundle.
    cache_dir
        Folder for the stat cache, the tree memos and the archives (created if missing).
    progress
        Told the ``bundle`` phase while an archive is written (bytes of files archived, of
        all to archive); nothing when the cached archive is used.

    Returns
    -------
    Bundle
        The bundle; its archive exists at ``bundle.path``.
    """
    memo_file = memo_path(cache_dir, request)
    remembered = recall(memo_file, cache_dir / "bundles")
    if remembered is not None:
        sha = archives.verified_sha256(cache_dir / "bundles" / archive_name(remembered.digest))
        if sha is not None:  # else the cached archive was damaged (and deleted): rebuild it
            warnings = _check_size(remembered.entries, request.limits)
            return _bundle(request, remembered, cache_dir, warnings, sha)
    for attempt in range(1, ATTEMPTS + 1):
        selection = select(request)
        try:
            result, keys, warnings, sha = _build(request, selection, cache_dir, progress)
        except FileChangedError:
            if attempt == ATTEMPTS:
                raise
            logger.info("a file changed while bundling; starting over (attempt %d)", attempt + 1)
            continue
        remember(memo_file, selection, result, keys)
        return _bundle(request, result, cache_dir, warnings, sha)
    raise AssertionError  # pragma: no cover - the loop returns or raises


def _bundle(
    request: BundleRequest,
    result: Remembered,
    cache_dir: Path,
    warnings: tuple[str, ...],
    sha256: str,
) -> Bundle:
    module = request.module
    return Bundle(
        digest=result.digest,
        sha256=sha256,
        path=cache_dir / "bundles" / archive_name(result.digest),
        root=result.root,
        entries=result.entries,
        module=module.name if module else None,
        source=module.source if module else None,
        dropped=module.dropped if module else (),
        excluded=result.excluded,
        warnings=warnings,
        origins=CellOrigins.of(module) if module else None,
    )


def _build(
    request: BundleRequest,
    selection: Selection,
    cache_dir: Path,
    progress: Progress | None,
) -> tuple[Remembered, Keys, tuple[str, ...], str]:
    bundles = cache_dir / "bundles"
    bundles.mkdir(parents=True, exist_ok=True)
    cache = StatCache(cache_dir / "stat", str(selection.bundle_root) + os.sep)
    entries, keys, unknown = _known_entries(selection.files, cache)
    warnings = _check_size(entries, request.limits)
    if unknown and _has_archives(bundles):  # hash just these (read only): the archive may exist
        _hash_unknown(selection.files, entries, keys, unknown, cache)
        unknown = []
    if not unknown:
        digest = manifest_digest(entries)
        sha = archives.verified_sha256(bundles / archive_name(digest))
        if sha is not None:
            result = Remembered(selection.bundle_root, digest, tuple(entries), selection.excluded)
            return result, keys, warnings, sha
    total = sum(e.size for e in entries)
    del entries, keys  # the archive's own entries replace them: do not hold both
    entries, keys, sha = _write(selection.files, bundles, cache, progress, total)
    digest = manifest_digest(entries)
    return (
        Remembered(selection.bundle_root, digest, tuple(entries), selection.excluded),
        keys,
        warnings,
        sha,
    )


def _known_entries(
    files: Sequence[FileRef], cache: StatCache
) -> tuple[list[ManifestEntry], Keys, list[int]]:
    """Entries with hashes from the stat cache, their stat keys, and the positions of the rest."""
    entries = []
    keys: Keys = []
    unknown = []
    lookup = cache.lookup
    for index, (arcname, path, data) in enumerate(files):
        if data is not None:
            digest = hashlib.sha256(data).hexdigest()
            entries.append(ManifestEntry(arcname, 0o644, len(data), digest))
            keys.append(None)
            continue
        try:
            key = stat_key(os.stat(path or ""))
        except FileNotFoundError as exc:
            msg = f"{path} vanished while it was being bundled. Run again."
            raise FileChangedError(msg) from exc
        cached = lookup(path or "", key)
        if cached is None:
            unknown.append(index)
        entries.append(ManifestEntry(arcname, normal_mode(key.mode), key.size, cached or ""))
        keys.append(key)
    return entries, keys, unknown


def _has_archives(bundles: Path) -> bool:
    with os.scandir(bundles) as listing:
        return any(entry.name.startswith("fast") for entry in listing)


def _hash_unknown(
    files: Sequence[FileRef],
    entries: list[ManifestEntry],
    keys: Keys,
    unknown: list[int],
    cache: StatCache,
) -> None:
    """Fill in the hashes the stat cache could not vouch for, and remember them."""
    read_ns = time.time_ns()  # before any byte is read: the conservative time for the racy rule
    buffer = bytearray(_READ)
    view = memoryview(buffer)
    for index in unknown:
        path, key = files[index].path or "", keys[index]
        sha = hashlib.sha256()
        try:
            with open(path, "rb", buffering=0) as handle:
                while count := handle.readinto(buffer):
                    sha.update(view[:count])
                after = stat_key(os.fstat(handle.fileno()))
        except FileNotFoundError as exc:
            msg = f"{path} vanished while it was being bundled. Run again."
            raise FileChangedError(msg) from exc
        except OSError as exc:
            raise unreadable(path, exc) from exc
        if key is None or after != key:
            msg = f"{path} changed while it was being bundled. Run again."
            raise FileChangedError(msg)
        entry = entries[index]
        entries[index] = ManifestEntry(entry.path, entry.mode, entry.size, sha.hexdigest())
        cache.record(path, key, entries[index].sha256, read_ns)
    cache.save()


def _write(
    files: Sequence[FileRef],
    bundles: Path,
    cache: StatCache,
    progress: Progress | None,
    total: int,
) -> tuple[list[ManifestEntry], Keys, str]:
    archives.remove_stale_temps(bundles)  # left by writers that were killed
    tmp = archives.temp_path(bundles)
    read_ns = time.time_ns()
    try:
        callback = progress.phase("bundle", total) if progress is not None else None
        written = write_archive(files, tmp, callback=callback)
        entries = [ManifestEntry(w.arcname, w.mode, w.size, w.sha256) for w in written]
        final = bundles / archive_name(manifest_digest(entries))
        archive_sha = archives.record(tmp, final)
        os.replace(tmp, final)  # atomic: readers see the whole archive or none
    finally:
        tmp.unlink(missing_ok=True)
    keys: Keys = []
    for ref, member in zip(files, written, strict=True):
        if member.stat is not None:
            cache.record(ref.path or "", member.stat, member.sha256, read_ns)
        keys.append(member.stat)
    cache.save()
    return entries, keys, archive_sha


def _check_size(entries: Sequence[ManifestEntry], limits: BundleLimits) -> tuple[str, ...]:
    total = sum(e.size for e in entries)
    if total <= limits.warn_bytes:
        return ()
    largest = heapq.nlargest(5, entries, key=attrgetter("size"))
    listing = ", ".join(f"{e.path} ({_mb(e.size)})" for e in largest)
    if total > limits.max_bytes:
        msg = (
            f"The bundle would be {_mb(total)}, over the limit of {_mb(limits.max_bytes)}. "
            f"Largest files: {listing}. Exclude them in .flyteignore, use copy style 'auto', "
            "or raise the limit: bundle_max_bytes (e.g. %config FlyteJupyter.bundle_max_bytes = "
            "2 * 1024**3, FLYTE_JUPYTER_BUNDLE_MAX_BYTES=2GiB, or bundle_max_bytes = '2GiB' under "
            "[tool.flyte_jupyter] in pyproject.toml)."
        )
        raise BundleTooLargeError(msg)
    message = f"bundle is {_mb(total)} (warning above {_mb(limits.warn_bytes)}); largest: {listing}"
    logger.warning("%s", message)
    return (message,)


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"
