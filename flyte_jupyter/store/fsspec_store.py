"""``BundleStore``: the bundle store, content-addressed archives in any fsspec folder.

What was published where is remembered in the publish index (:mod:`.index`,
``<home>/index.sqlite``); runs are recorded elsewhere, in the run store.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import fsspec.core
from fsspec.registry import known_implementations

from flyte_jupyter._os import sha256_file
from flyte_jupyter.bundle.model import archive_name
from flyte_jupyter.errors import StoreError
from flyte_jupyter.redaction import redacting_logger
from flyte_jupyter.store.errors import (
    Where,
    damaged_archive_error,
    integrity_error,
    is_missing_bucket,
    open_error,
    translate,
)
from flyte_jupyter.store.index import IndexRow, PublishIndex
from flyte_jupyter.store.model import Published
from flyte_jupyter.store.retry import call_with_retries
from flyte_jupyter.store.transport import Transport

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from flyte_jupyter.progress import PhaseCallback, Progress

__all__ = ["BundleStore", "default_store_url", "open_store"]

logger = redacting_logger(__name__)

T = TypeVar("T")

SWEEP_EVERY = 24 * 3600.0
"""Seconds between two sweeps of one store's upload leftovers (per home)."""
_DIGEST_CHARS = frozenset("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-")
_MAX_DIGEST_LEN = 128


def default_store_url(home: Path) -> str:
    """Return the default bundle store: ``file://`` and the folder ``store`` under ``home``."""
    return "file://" + str(home / "store")


def normalize_url(url: str) -> str:
    """Return ``url`` with a bare or ``file://`` path made absolute and trailing ``/`` cut."""
    if "://" not in url:
        url = "file://" + url
    scheme, rest = url.split("://", 1)
    if scheme in ("file", "local"):
        # abspath, not resolve(): keep the symlinked path the user chose.
        return "file://" + os.path.abspath(os.path.expanduser(rest))
    return f"{scheme}://{rest.rstrip('/')}"


def _hash_in_background(archive: Path) -> Future[str]:
    """Start hashing ``archive`` in a thread (hashlib releases the GIL while it works)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flyte-jupyter-sha256")
    try:
        return pool.submit(sha256_file, archive)
    finally:
        pool.shutdown(wait=False)


def _check_digest(digest: str) -> None:
    if not digest or len(digest) > _MAX_DIGEST_LEN or not set(digest) <= _DIGEST_CHARS:
        raise ValueError(f"Not a bundle digest: {digest!r} (expected letters, digits, _ or -)")


def _url_to_fs(url: str, options: Mapping[str, Any]) -> tuple[Any, str]:
    """The filesystem of ``url`` and its path there, with fsspec's own backend for the protocol.

    fsspec's registry can be rewritten at run time: ``import flyte.storage`` (flyte v2, imported
    by a notebook that defines v2 tasks) registers obstore for ``s3``, ``gs``, ``abfs``... with
    other option names (``key`` is refused). The storage options here are the documented
    backend's (s3fs for ``s3``), so a protocol fsspec knows is opened with that backend.
    """
    protocol, _ = fsspec.core.split_protocol(url)
    known = known_implementations.get(protocol or "file")
    if "::" in url or known is None:  # chained URLs and protocols fsspec does not list
        fs, root = fsspec.core.url_to_fs(url, skip_instance_cache=True, **options)
        return fs, str(root)
    module, _, name = known["class"].rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ImportError(known.get("err") or str(exc)) from exc
    return cls(skip_instance_cache=True, **options), str(cls._strip_protocol(url))


def _with_defaults(url: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Return fsspec options for ``url`` with this store's defaults filled in.

    For S3, botocore's own retries are turned off unless the caller configured them: s3fs
    already retries throttling and dropped connections per request, and this store retries each
    whole step, so a third layer only made an unreachable endpoint take a minute to report.
    """
    out = dict(options)
    if url.split("://", 1)[0] in ("s3", "s3a"):
        config = dict(out.get("config_kwargs") or {})
        config.setdefault("retries", {"total_max_attempts": 1})
        out["config_kwargs"] = config
    return out


def _endpoint(options: Mapping[str, Any]) -> str | None:
    endpoint = options.get("endpoint_url") or dict(options.get("client_kwargs") or {}).get(
        "endpoint_url"
    )
    return None if endpoint is None else str(endpoint)


class BundleStore:
    """Content-addressed bundle archives under one fsspec URL.

    Parameters
    ----------
    url
        The store folder: a local path, ``file://...``, ``s3://bucket/prefix`` or any fsspec URL.
    index_path
        The publish index: the local SQLite file that remembers what was published where.
    storage_options
        Passed to fsspec (e.g. ``{"endpoint_url": ...}`` for an S3-compatible service).
    verify_after
        Seconds for which a publish-index entry is trusted without asking the store; 0 always
        asks.
    retries
        How many times a transient error (connection, timeout, throttling, 5xx) is retried.
    backoff
        First wait between retries in seconds; it doubles each time.

    Attributes
    ----------
    leftovers_after
        Age in seconds after which what an upload left (a lone sidecar, a temp file, an
        unfinished S3 multipart upload) is taken for the remains of a killed process and
        removed. Swept after an upload, at most every :data:`SWEEP_EVERY` seconds per store and
        home. Longer than any live upload may take.
    """

    leftovers_after = 3600.0

    def __init__(
        self,
        url: str,
        *,
        index_path: Path,
        storage_options: Mapping[str, Any] | None = None,
        verify_after: float = 300.0,
        retries: int = 4,
        backoff: float = 0.2,
    ) -> None:
        self.url = normalize_url(url)
        options = _with_defaults(self.url, storage_options or {})
        try:
            fs, root = _url_to_fs(self.url, options)
        except (ImportError, ValueError) as exc:
            raise open_error(self.url, exc) from exc
        self._transport = Transport(fs, str(root))
        endpoint = _endpoint(options)
        self._where = Where(self.url, local=self._transport.local, endpoint=endpoint)
        # Same bucket name on two endpoints (AWS and a local MinIO) must not share index rows.
        self._index_key = self.url if endpoint is None else f"{self.url}#endpoint={endpoint}"
        self._index = PublishIndex(index_path)
        self.verify_after = verify_after
        self.retries = retries
        self.backoff = backoff

    def __repr__(self) -> str:
        return f"BundleStore({self.url!r})"

    def uri_for(self, digest: str) -> str:
        """Return the full URL the archive of ``digest`` has (or would have) in this store."""
        _check_digest(digest)
        return self._transport.uri(archive_name(digest))

    def _step(self, action: str, what: str, func: Callable[[], T]) -> T:
        """Run one store step with retries; translate what escapes into a ``StoreError``."""
        try:
            return call_with_retries(func, what=what, retries=self.retries, backoff=self.backoff)
        except Exception as exc:
            raise translate(self._where, action, exc) from exc

    def exists(self, digest: str) -> bool:
        """Ask the store (never the index) whether the archive of ``digest`` is there.

        Parameters
        ----------
        digest
            The bundle digest.

        Returns
        -------
        bool
            True when the archive and its ``.sha256`` sidecar are both in the store.
        """
        uri = self.uri_for(digest)
        name = archive_name(digest)
        return self._step("check", f"check {uri}", lambda: self._transport.probe(name))

    def _fresh(self, row: IndexRow, now: float) -> bool:
        return self.verify_after > 0 and now - row.verified_at < self.verify_after

    def publish(
        self,
        archive: Path,
        digest: str,
        *,
        progress: Progress | None = None,
        verify: bool = False,
        expected_sha256: str | None = None,
    ) -> Published:
        """Make sure the store holds ``archive`` under ``digest``; upload only if needed.

        Parameters
        ----------
        archive
            The local ``fast<digest>.tar.gz`` file.
        digest
            The bundle digest (the object key is ``fast<digest>.tar.gz``).
        progress
            Told the ``upload`` phase while bytes are sent, ending at ``(size, size)``;
            nothing on reuse.
        verify
            Ask the store even when the index entry is fresh.
        expected_sha256
            The sha256 the caller built ``archive`` with. When given, ``archive`` is sent only
            if its bytes still hash to it, and an object found in the store without a fresh
            index entry is hashed too: one with other bytes is replaced by ``archive``.

        Returns
        -------
        Published
            Where the archive is, and whether this call sent it.

        Raises
        ------
        DamagedArchiveError
            ``archive`` no longer hashes to ``expected_sha256``; nothing was sent.
        StoreError
            The archive is missing, or the store cannot be reached or written (after retrying
            transient errors). Nothing is left under the final key and the index is unchanged.
        """
        uri = self.uri_for(digest)
        name = archive_name(digest)
        now = time.time()
        row = self._index.get(self._index_key, digest)
        if row is not None and not verify and self._fresh(row, now):
            logger.debug("Reusing %s (index entry verified %.0f s ago)", uri, now - row.verified_at)
            return Published(row.uri, reused=True, sha256=row.sha256, size=row.size)
        size = self._archive_size(archive)
        # On an index miss the sha256 is needed either way (to upload, or to record the object
        # found), so hash while the store is being asked; a stale row usually means "present".
        hashing = _hash_in_background(archive) if row is None and not expected_sha256 else None

        def local_sha256() -> str:
            sha = hashing.result() if hashing is not None else sha256_file(archive)
            if expected_sha256 is not None and sha != expected_sha256:
                raise damaged_archive_error(archive, sha, expected_sha256)
            return sha

        if self._step("publish to", f"check {uri}", lambda: self._transport.probe(name)):
            if expected_sha256 is None or (row is not None and self._fresh(row, now)):
                return self._record_reuse(row, local_sha256, digest, uri, size)
            # Present, but nothing vouches for its bytes lately: hash them.
            stored = self._step("read from", f"hash {uri}", lambda: self._transport.sha256(name))
            if stored == expected_sha256:
                stamp = time.time()
                row = IndexRow(self._index_key, digest, uri, stored, size, stamp, stamp)
                self._index.put(row)
                return Published(uri, reused=True, sha256=stored, size=size)
            if stored is not None:
                published = self._upload(archive, digest, local_sha256(), size, progress)
                logger.warning(
                    "The stored bundle %s did not match what this kernel built (sha256 %s, "
                    "built %s); it was re-uploaded.",
                    uri,
                    stored,
                    expected_sha256,
                )
                return published
        return self._upload(archive, digest, local_sha256(), size, progress)

    def _upload(
        self,
        archive: Path,
        digest: str,
        sha256: str,
        size: int,
        progress: Progress | None,
    ) -> Published:
        """Send ``archive`` (sidecar first), record it in the index, sweep old leftovers."""
        uri = self.uri_for(digest)
        name = archive_name(digest)
        callback = progress.phase("upload", size) if progress is not None else None
        logger.info("Uploading %s (%d bytes) to %s", archive, size, uri)
        self._step(
            "publish to",
            f"upload {uri}",
            lambda: self._transport.upload(archive, name, sha256, callback),
        )
        if callback is not None:
            callback.absolute_update(size)  # the end, also where fsspec reported no bytes
        stamp = time.time()
        self._index.put(IndexRow(self._index_key, digest, uri, sha256, size, stamp, stamp))
        self._sweep()
        return Published(uri, reused=False, sha256=sha256, size=size)

    def _sweep(self) -> None:
        """Remove what killed uploads left in the store, at most every ``SWEEP_EVERY`` s.

        Best effort: a failure is logged, never raised (the upload itself succeeded).
        """
        key = hashlib.sha256(self._index_key.encode("utf-8")).hexdigest()[:32]
        marker = self._index.path.parent / "sweeps" / key
        with contextlib.suppress(OSError):
            if time.time() - marker.stat().st_mtime < SWEEP_EVERY:
                return
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()  # first: concurrent publishers do not all sweep
            removed = self._transport.sweep(self.leftovers_after)
        except Exception as exc:  # noqa: BLE001 - cleanup must never fail a publish
            logger.info("Could not clean up old upload leftovers in %s: %s", self.url, exc)
            return
        if removed:
            logger.info("Removed leftovers of killed uploads in %s: %s", self.url, removed)

    def reupload(self, archive: Path, digest: str, sha256: str) -> Published:
        """Replace whatever the store holds under ``digest`` with ``archive``.

        For an object found with other bytes than the ones built. ``archive`` must hash to
        ``sha256`` (checked before anything is sent).

        Raises
        ------
        DamagedArchiveError
            ``archive`` does not hash to ``sha256``; nothing was sent.
        StoreError
            The store cannot be written.
        """
        actual = sha256_file(archive)
        if actual != sha256:
            raise damaged_archive_error(archive, actual, sha256)
        return self._upload(archive, digest, sha256, self._archive_size(archive), None)

    def _archive_size(self, archive: Path) -> int:
        try:
            return archive.stat().st_size
        except OSError as exc:
            raise StoreError(
                f"Cannot publish {archive} to {self.url}: {exc}. Build the bundle archive first."
            ) from exc

    def _record_reuse(
        self,
        row: IndexRow | None,
        local_sha256: Callable[[], str],
        digest: str,
        uri: str,
        size: int,
    ) -> Published:
        now = time.time()
        if row is not None:
            self._index.touch(self._index_key, digest, now)
            logger.debug("Reusing %s (re-verified at the store)", uri)
            return Published(uri, reused=True, sha256=row.sha256, size=row.size)
        sha256 = local_sha256()
        self._index.put(IndexRow(self._index_key, digest, uri, sha256, size, now, now))
        logger.info("Reusing %s (already in the store)", uri)
        return Published(uri, reused=True, sha256=sha256, size=size)

    def fetch(
        self,
        digest: str,
        dest: Path,
        *,
        expected_sha256: str | None = None,
        progress: Progress | None = None,
    ) -> Path:
        """Download the archive of ``digest`` to the file ``dest`` and check its sha256.

        Parameters
        ----------
        digest
            The bundle digest.
        dest
            The local file to write; written only once its bytes are verified.
        expected_sha256
            The sha256 the bytes must have (what the caller built). None: the one recorded in
            the store's ``.sha256`` sidecar, which only guards against damage, not against
            someone who can write to the store.
        progress
            Told the ``download`` phase while bytes are received.

        Returns
        -------
        Path
            ``dest``.

        Raises
        ------
        IntegrityError
            The bytes do not match the expected sha256 (``dest`` is not written).
        StoreError
            The archive or its sidecar is not in the store, or the store cannot be read.
        """
        uri = self.uri_for(digest)
        name = archive_name(digest)
        expected = expected_sha256 or self._step(
            "read from", f"read {uri}.sha256", lambda: self._transport.read_sidecar(name)
        )
        if expected is None:
            raise self._not_found(uri)
        dest.parent.mkdir(parents=True, exist_ok=True)
        temp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")
        callback = progress.phase("download", None) if progress is not None else None
        try:
            if not self._step(
                "read from", f"download {uri}", lambda: self._download(name, temp, callback)
            ):
                raise self._not_found(uri)
            actual = sha256_file(temp)
            if actual != expected:
                self._index.delete(self._index_key, digest)
                raise integrity_error(uri, actual, expected, built=expected_sha256 is not None)
            temp.replace(dest)
        finally:
            temp.unlink(missing_ok=True)
        return dest

    def _download(self, name: str, temp: Path, callback: PhaseCallback | None) -> bool:
        """Download ``name`` to ``temp``; False when the object is missing."""
        try:
            self._transport.download(name, temp, callback)
        except FileNotFoundError as exc:
            if is_missing_bucket(exc):
                raise
            return False
        return True

    def _not_found(self, uri: str) -> StoreError:
        return StoreError(
            f"{uri} is not in the store {self.url} (or has no readable {uri}.sha256 beside it). "
            "Publish the bundle first (run the cell again), or check the store URL."
        )


def open_store(
    url: str,
    *,
    home: Path,
    storage_options: Mapping[str, Any] | None = None,
    verify_after: float = 300.0,
    retries: int = 4,
    backoff: float = 0.2,
) -> BundleStore:
    """Open the bundle store at ``url``, with its publish index at ``home / "index.sqlite"``.

    Parameters
    ----------
    url
        A local folder (bare path or ``file://``), ``s3://bucket/prefix``, or any fsspec URL.
    home
        The flyte_jupyter home folder (holds the publish index).
    storage_options
        Passed to fsspec.
    verify_after
        See `BundleStore`.
    retries
        See `BundleStore`.
    backoff
        See `BundleStore`.

    Returns
    -------
    BundleStore
        The store; opening it makes no network call.
    """
    return BundleStore(
        url,
        index_path=Path(home) / "index.sqlite",
        storage_options=storage_options,
        verify_after=verify_after,
        retries=retries,
        backoff=backoff,
    )
