"""Moving bytes to and from one bundle store folder: probe, atomic upload, download.

Layout under the store prefix, per archive ``name`` (``fast<digest>.tar.gz``)::

    <name>          the archive
    <name>.sha256   one line "<sha256 hex>  <name>" (sha256sum format), written BEFORE <name>

An archive counts as present only when both are there, so a reader that sees the archive can
always check its bytes, and a sidecar left alone by an upload that failed or was killed never
makes its archive count as present. A failed upload removes the sidecar it wrote; what a killed
one left (a lone sidecar, a local temp file, an unfinished S3 multipart upload of a
``fast*.tar.gz`` key under the store prefix) is removed by :meth:`Transport.sweep` once it is
older than any live upload could be. Local folders get their own atomic write (temp file in the same
folder, then ``os.replace``) because fsspec's local ``put_file`` writes in place. Other
protocols use ``put_file``, which is atomic per object on object stores (s3fs: one PUT below
its chunk size, a completed multipart upload above it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import posixpath
import re
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte_jupyter.store.errors import is_missing_bucket

if TYPE_CHECKING:
    from collections.abc import Iterable

    from fsspec import AbstractFileSystem

    from flyte_jupyter.progress import PhaseCallback

__all__ = ["SIDECAR_SUFFIX", "Transport", "format_sidecar", "parse_sidecar"]

SIDECAR_SUFFIX = ".sha256"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_SHA256_HEX_LEN = 64
_COPY_CHUNK = 1024 * 1024
_STALE_TEMP_S = 3600.0


def format_sidecar(sha256: str, name: str) -> bytes:
    """Return the sidecar content for archive ``name`` (sha256sum format)."""
    return f"{sha256}  {name}\n".encode("ascii")


def parse_sidecar(data: bytes) -> str | None:
    """Return the sha256 recorded in sidecar ``data``, or None when it is unreadable."""
    words = data.decode("ascii", errors="replace").split()
    if words and _SHA256_HEX.fullmatch(words[0]):
        return words[0]
    return None


def _is_local(fs: AbstractFileSystem) -> bool:
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    return "file" in protocols or "local" in protocols


def _is_s3(fs: AbstractFileSystem) -> bool:
    protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
    return "s3" in protocols


class Transport:
    """Byte movement for one store folder.

    Parameters
    ----------
    fs
        The fsspec file system.
    root
        The store folder as a path of ``fs`` (protocol stripped).
    chunksize
        Part size for multipart uploads, passed to ``put_file`` when set (s3fs default:
        50 MiB, multipart from 100 MiB).
    """

    def __init__(self, fs: AbstractFileSystem, root: str, *, chunksize: int | None = None) -> None:
        self.fs = fs
        self.root = root
        self.local = _is_local(fs)
        self.chunksize = chunksize

    def path(self, name: str) -> str:
        """Path of ``name`` inside the store folder, in ``fs`` terms."""
        return posixpath.join(self.root, name) if self.root else name

    def uri(self, name: str) -> str:
        """Full URL of ``name``."""
        return str(self.fs.unstrip_protocol(self.path(name)))

    def probe(self, name: str) -> bool:
        """Tell whether archive ``name`` and a readable sidecar are both in the store.

        On S3 this is one ListObjectsV2 request (prefix ``<name>``) that sees both keys; the
        sidecar is judged by its size there (its content is checked by ``fetch``).
        """
        if _is_s3(self.fs):
            listing = self.fs.find(self.root, prefix=name, maxdepth=1, detail=True, refresh=True)
            side = listing.get(self.path(name + SIDECAR_SUFFIX))
            return self.path(name) in listing and side is not None and _sidecar_size_ok(side, name)
        try:
            self.fs.info(self.path(name))
        except FileNotFoundError as exc:
            if is_missing_bucket(exc):
                raise
            return False
        return self.read_sidecar(name) is not None

    def read_sidecar(self, name: str) -> str | None:
        """Return the sha256 recorded beside archive ``name``, or None if absent/unreadable."""
        try:
            data = self.fs.cat_file(self.path(name + SIDECAR_SUFFIX))
        except FileNotFoundError as exc:
            if is_missing_bucket(exc):
                raise
            return None
        return parse_sidecar(bytes(data))

    def upload(self, archive: Path, name: str, sha256: str, callback: PhaseCallback | None) -> None:
        """Publish the sidecar, then the archive, each atomically.

        ``callback`` (the ``upload`` phase) is given the archive bytes sent; a retried upload
        counts from zero again.
        """
        sidecar = format_sidecar(sha256, name)
        if callback is not None:
            callback.restart()
        if self.local:
            root = Path(self.root)
            root.mkdir(parents=True, exist_ok=True)
            _remove_stale_temps(root, name)
            _write_atomic(root / (name + SIDECAR_SUFFIX), [sidecar], None)
            try:
                _write_atomic(root / name, _chunks(archive), callback)
            except BaseException:
                self._drop_lone_sidecar(name)
                raise
            return
        self.fs.pipe_file(self.path(name + SIDECAR_SUFFIX), sidecar)
        kwargs: dict[str, Any] = {}
        if self.chunksize is not None and _is_s3(self.fs):
            kwargs["chunksize"] = self.chunksize
        if callback is not None:
            kwargs["callback"] = callback  # put_file sets its size and adds each part sent
        try:
            self.fs.put_file(str(archive), self.path(name), **kwargs)
        except BaseException:
            self._drop_lone_sidecar(name)
            raise

    def _drop_lone_sidecar(self, name: str) -> None:
        """After a failed upload: remove the sidecar unless the archive is there after all."""
        with contextlib.suppress(Exception):  # best effort: the sweep gets what this misses
            if not self.fs.exists(self.path(name)):
                self.fs.rm_file(self.path(name + SIDECAR_SUFFIX))

    def sweep(self, older_than: float) -> list[str]:
        """Remove what killed uploads left, once older than ``older_than`` seconds.

        Only what this project writes is touched: in the store folder itself (not below it),
        temp files ``.fast*.tmp`` of local uploads, sidecars ``fast*.tar.gz.sha256`` whose
        archive is absent and, on S3, unfinished multipart uploads of ``fast*.tar.gz`` keys.

        Returns
        -------
        list[str]
            What was removed (names, or ``<key> (multipart upload <id>)``).
        """
        cutoff = time.time() - older_than
        removed: list[str] = []
        try:
            listing = self.fs.find(self.root, prefix="fast", maxdepth=1, detail=True)
        except FileNotFoundError:
            listing = {}
        if self.local:
            root = Path(self.root)
            for temp in root.glob(".fast*.tmp"):
                with contextlib.suppress(OSError):
                    if temp.stat().st_mtime < cutoff:
                        temp.unlink()
                        removed.append(temp.name)
        elif _is_s3(self.fs):
            removed += self._abort_multipart_uploads(cutoff, listing)
        removed += self._remove_lone_sidecars(cutoff, listing)
        return removed

    def _remove_lone_sidecars(self, cutoff: float, listing: dict[str, Any]) -> list[str]:
        removed = []
        for path, info in listing.items():
            archive = path[: -len(SIDECAR_SUFFIX)]
            if not path.endswith(SIDECAR_SUFFIX) or not _is_archive_name(archive):
                continue
            if archive in listing or _modified(info) > cutoff:
                continue
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm_file(path)
                removed.append(posixpath.basename(path))
        return removed

    def _abort_multipart_uploads(self, cutoff: float, listing: dict[str, Any]) -> list[str]:
        """Abort unfinished uploads of archives that look abandoned.

        Started before ``cutoff``, with a sidecar (written just before an upload starts) that
        is absent or older than ``cutoff`` too.
        """
        bucket, _, prefix = self.root.partition("/")
        prefix = prefix.strip("/")
        request: dict[str, Any] = {
            "Bucket": bucket,
            "Prefix": posixpath.join(prefix, "fast") if prefix else "fast",
        }
        removed = []
        while True:
            page = self.fs.call_s3("list_multipart_uploads", **request)
            for upload in page.get("Uploads") or []:
                key = str(upload["Key"])
                if posixpath.dirname(key) != prefix or not _is_archive_name(key):
                    continue
                side = listing.get(f"{bucket}/{key}{SIDECAR_SUFFIX}")
                if upload["Initiated"].timestamp() > cutoff or (
                    side is not None and _modified(side) > cutoff
                ):
                    continue  # maybe a live upload of another process
                self.fs.call_s3(
                    "abort_multipart_upload", Bucket=bucket, Key=key, UploadId=upload["UploadId"]
                )
                removed.append(f"{key} (multipart upload {upload['UploadId']})")
            if not page.get("IsTruncated"):
                return removed
            request["KeyMarker"] = page.get("NextKeyMarker")
            request["UploadIdMarker"] = page.get("NextUploadIdMarker")

    def download(self, name: str, dest: Path, callback: PhaseCallback | None = None) -> None:
        """Copy archive ``name`` to the local file ``dest`` (no checks).

        ``callback`` (the ``download`` phase) is given the bytes received.
        """
        if callback is None:
            self.fs.get_file(self.path(name), str(dest))
            return
        callback.restart()
        if self.local:  # fsspec's local get_file copies in one go and ignores callbacks
            source = Path(self.path(name))
            callback.set_size(source.stat().st_size)
            with dest.open("wb") as out:
                for chunk in _chunks(source):
                    out.write(chunk)
                    callback.relative_update(len(chunk))
            return
        self.fs.get_file(self.path(name), str(dest), callback=callback)

    def sha256(self, name: str) -> str | None:
        """The sha256 of the stored bytes of ``name`` (streamed), or None when it is absent."""
        digest = hashlib.sha256()
        try:
            with self.fs.open(self.path(name), "rb") as src:
                while chunk := src.read(_COPY_CHUNK):
                    digest.update(chunk)
        except FileNotFoundError as exc:
            if is_missing_bucket(exc):
                raise
            return None
        return digest.hexdigest()


def _is_archive_name(path: str) -> bool:
    name = posixpath.basename(path)
    return name.startswith("fast") and name.endswith(".tar.gz")


def _modified(info: dict[str, Any]) -> float:
    """Modification time (epoch seconds) from an fsspec listing entry; now when unknown."""
    for key in ("LastModified", "mtime", "updated", "last_modified"):
        value = info.get(key)
        if isinstance(value, dt.datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
    return time.time()


def _sidecar_size_ok(info: dict[str, Any], name: str) -> bool:
    """Judge a sidecar by its listed size: ours, or a bare hash with or without newline."""
    size = int(info.get("size") or 0)
    return size in (_SHA256_HEX_LEN, _SHA256_HEX_LEN + 1, len(format_sidecar("0" * 64, name)))


def _chunks(path: Path) -> Iterable[bytes]:
    with path.open("rb") as src:
        while chunk := src.read(_COPY_CHUNK):
            yield chunk


def _temp_prefix(name: str) -> str:
    # Leading dot and ".tmp" suffix: never equal to "<name>" or "<name>.sha256".
    return f".{name}."


def _remove_stale_temps(root: Path, name: str) -> None:
    """Delete temp files of uploads of ``name`` that were killed more than an hour ago."""
    cutoff = time.time() - _STALE_TEMP_S
    for temp in root.glob(f"{_temp_prefix(name)}*.tmp"):
        with contextlib.suppress(OSError):
            if temp.stat().st_mtime < cutoff:
                temp.unlink()


def _write_atomic(final: Path, chunks: Iterable[bytes], callback: PhaseCallback | None) -> None:
    """Write ``chunks`` to a temp file beside ``final``, fsync it, then rename it over."""
    fd, temp_name = tempfile.mkstemp(
        prefix=_temp_prefix(final.name), suffix=".tmp", dir=final.parent
    )
    temp = Path(temp_name)
    try:
        done = 0
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
                done += len(chunk)
                if callback is not None:
                    callback.absolute_update(done)
            out.flush()
            os.fsync(out.fileno())
        temp.chmod(0o644)  # mkstemp makes 0600; readers may be other users (containers)
        temp.replace(final)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
