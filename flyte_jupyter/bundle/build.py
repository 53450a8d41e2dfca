"""Make a bundle: select files, hash them (through the stat cache), write the archive once.

The archive is cached as ``<cache_dir>/bundles/fast<digest>.tar.gz``. When every file's hash
comes from the stat cache and that archive exists, nothing is read and nothing is written.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING

from flyte_jupyter.bundle.manifest import manifest_digest, normal_mode
from flyte_jupyter.bundle.model import Bundle, ManifestEntry, archive_name
from flyte_jupyter.bundle.statcache import StatCache, StatKey
from flyte_jupyter.bundle.tarball import write_archive
from flyte_jupyter.bundle.walk import select
from flyte_jupyter.errors import BundleTooLargeError, FileChangedError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from flyte_jupyter.bundle.model import BundleLimits, BundleRequest
    from flyte_jupyter.bundle.walk import Selection

logger = logging.getLogger(__name__)
ATTEMPTS = 3


def make_bundle(
    request: BundleRequest,
    *,
    cache_dir: Path,
    progress: Callable[[int, int], None] | None = None,
) -> Bundle:
    """Bundle the files ``request`` selects into ``cache_dir/bundles``.

    Parameters
    ----------
    request
        What to bundle.
    cache_dir
        Folder for the stat cache and the archives (created if missing).
    progress
        Called with (bytes archived, bytes to archive) while an archive is written.

    Returns
    -------
    Bundle
        The bundle; its archive exists at ``bundle.path``.
    """
    for attempt in range(1, ATTEMPTS + 1):
        selection = select(request)
        try:
            return _build(request, selection, cache_dir, progress)
        except FileChangedError:
            if attempt == ATTEMPTS:
                raise
            logger.info("a file changed while bundling; starting over (attempt %d)", attempt + 1)
    raise AssertionError  # pragma: no cover - the loop returns or raises


def _build(
    request: BundleRequest,
    selection: Selection,
    cache_dir: Path,
    progress: Callable[[int, int], None] | None,
) -> Bundle:
    bundles = cache_dir / "bundles"
    bundles.mkdir(parents=True, exist_ok=True)
    cache = StatCache(cache_dir / "stat.sqlite", str(selection.bundle_root) + os.sep)
    entries, unknown = _known_entries(selection, cache)
    warnings = _check_size(entries, request.limits)
    if unknown:  # hash just these (read only): the archive may exist already
        entries = _hash_unknown(selection, entries, unknown, cache)
    archive = bundles / archive_name(manifest_digest(entries))
    if not archive.exists():
        entries, archive = _write(selection, bundles, cache, progress, entries)
    module = request.module
    return Bundle(
        digest=manifest_digest(entries),
        path=archive,
        root=selection.bundle_root,
        entries=tuple(sorted(entries, key=lambda e: e.path)),
        module=module.name if module else None,
        source=module.source if module else None,
        dropped=module.dropped if module else (),
        excluded=selection.excluded,
        warnings=warnings,
    )


def _known_entries(
    selection: Selection, cache: StatCache
) -> tuple[list[ManifestEntry], dict[int, StatKey]]:
    """Entries with hashes from the stat cache, and the positions (with stats) of the rest."""
    entries = []
    unknown: dict[int, StatKey] = {}
    for index, ref in enumerate(selection.files):
        if ref.data is not None:
            digest = hashlib.sha256(ref.data).hexdigest()
            entries.append(ManifestEntry(ref.arcname, 0o644, len(ref.data), digest))
            continue
        assert ref.path is not None  # noqa: S101 - FileRef holds a path or data
        try:
            st = os.stat(ref.path)
        except FileNotFoundError as exc:
            msg = f"{ref.path} vanished while it was being bundled. Run again."
            raise FileChangedError(msg) from exc
        key = StatKey.of(st)
        cached = cache.lookup(str(ref.path), key)
        if cached is None:
            unknown[index] = key
        mode = normal_mode(st.st_mode)
        entries.append(ManifestEntry(ref.arcname, mode, st.st_size, cached or ""))
    return entries, unknown


def _hash_unknown(
    selection: Selection,
    entries: list[ManifestEntry],
    unknown: dict[int, StatKey],
    cache: StatCache,
) -> list[ManifestEntry]:
    """Fill in the hashes the stat cache could not vouch for, and remember them."""
    out = list(entries)
    for index, key in unknown.items():
        path = selection.files[index].path
        assert path is not None  # noqa: S101 - only files on disk are unknown
        sha = hashlib.sha256()
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 20):
                    sha.update(chunk)
                after = StatKey.of(os.fstat(handle.fileno()))
        except FileNotFoundError as exc:
            msg = f"{path} vanished while it was being bundled. Run again."
            raise FileChangedError(msg) from exc
        if after != key:
            msg = f"{path} changed while it was being bundled. Run again."
            raise FileChangedError(msg)
        out[index] = replace(entries[index], sha256=sha.hexdigest())
        cache.record(str(path), key, out[index].sha256)
    cache.save()
    return out


def _write(
    selection: Selection,
    bundles: Path,
    cache: StatCache,
    progress: Callable[[int, int], None] | None,
    planned: Sequence[ManifestEntry],
) -> tuple[list[ManifestEntry], Path]:
    tmp = bundles / f".tmp-{uuid.uuid4().hex}.tar.gz"
    try:
        written = write_archive(
            selection.files, tmp, progress=progress, total=sum(e.size for e in planned)
        )
        entries = [entry for entry, _ in written]
        final = bundles / archive_name(manifest_digest(entries))
        os.replace(tmp, final)  # atomic: readers see the whole archive or none
    finally:
        tmp.unlink(missing_ok=True)
    for ref, (entry, key) in zip(selection.files, written, strict=True):
        if key is not None:
            cache.record(str(ref.path), key, entry.sha256)
    cache.save()
    return entries, final


def _check_size(entries: Sequence[ManifestEntry], limits: BundleLimits) -> tuple[str, ...]:
    total = sum(e.size for e in entries)
    if total <= limits.warn_bytes:
        return ()
    largest = sorted(entries, key=lambda e: -e.size)[:5]
    listing = ", ".join(f"{e.path} ({_mb(e.size)})" for e in largest)
    if total > limits.max_bytes:
        msg = (
            f"The bundle would be {_mb(total)}, over the limit of {_mb(limits.max_bytes)}. "
            f"Largest files: {listing}. Exclude them in .flyteignore, use copy style 'auto', "
            "or raise the limit (max_bundle_bytes)."
        )
        raise BundleTooLargeError(msg)
    message = f"bundle is {_mb(total)} (warning above {_mb(limits.warn_bytes)}); largest: {listing}"
    logger.warning("%s", message)
    return (message,)


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"
