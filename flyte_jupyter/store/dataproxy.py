"""Bundle archives sent through a Flyte cluster's data proxy (the ``store = "flyte"`` setting).

A backend beside :class:`~flyte_jupyter.store.BundleStore`, with the same ``publish``: for a
cluster whose bucket the kernel cannot write, the cluster hands out a signed upload URL per
archive (``CreateUploadLocation``, keyed by the archive's MD5), as ``pyflyte register`` uploads
its package, and the URI it names is where the cluster reads the bundle. Nothing here speaks to
Flyte: the upload function is handed in by the application layer, which holds the client of
the cluster (flytekit's admin or flyte v2's control plane).

The proxy cannot be asked what it holds, so what was sent is remembered in the publish index
(``<home>/index.sqlite``) under the cluster and place it went to: an unchanged archive is not
sent again to the same cluster, project and domain for :data:`REUPLOAD_AFTER` seconds (a bucket
behind a proxy may expire objects). The archive is sent only while it has the bytes it was
built with.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from flyte_jupyter.store.index import IndexRow
from flyte_jupyter.store.model import Published

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from flyte_jupyter.progress import Progress
    from flyte_jupyter.store.index import PublishIndex

FLYTE_STORE = "flyte"
"""The ``store`` value that sends bundles through Flyte's data proxy instead of a bucket."""
REUPLOAD_AFTER = 24 * 3600.0
"""Seconds after which an archive sent through the proxy is sent again rather than reused."""


class DataProxyStore:
    """Publish archives through a Flyte data proxy.

    Parameters
    ----------
    upload
        Sends one file through the proxy and returns the URI the cluster reads it from
        (``RemoteLauncher.upload_file``); raises ``StoreError`` when the proxy refuses.
    index
        Where sent archives are remembered (None: every publish sends).
    place
        The cluster and place the proxy puts archives (``<endpoint> <org>/<project>/<domain>``):
        the index's key with the digest.
    """

    def __init__(
        self,
        upload: Callable[[Path], str],
        *,
        index: PublishIndex | None = None,
        place: str = "",
    ) -> None:
        self._upload = upload
        self._index = index
        self.url = f"{FLYTE_STORE}:{place}"

    def __repr__(self) -> str:
        return f"DataProxyStore({self.url!r})"

    def publish(
        self,
        archive: Path,
        digest: str,
        *,
        progress: Progress | None = None,  # noqa: ARG002 - the SDKs' uploads report nothing
        verify: bool = True,  # noqa: ARG002 - the proxy cannot be asked: see REUPLOAD_AFTER
        expected_sha256: str | None = None,
    ) -> Published:
        """Upload ``archive`` (only while it hashes to ``expected_sha256``); return its URI.

        An archive of the same digest and bytes sent to the same place within
        :data:`REUPLOAD_AFTER` seconds is not sent again (``reused``).

        Raises
        ------
        DamagedArchiveError
            ``archive`` no longer hashes to ``expected_sha256``; nothing was sent.
        StoreError
            The proxy refused the upload location, or the upload failed.
        """
        from flyte_jupyter._os import sha256_file
        from flyte_jupyter.store.errors import damaged_archive_error

        sha = sha256_file(archive)
        if expected_sha256 is not None and sha != expected_sha256:
            raise damaged_archive_error(archive, sha, expected_sha256)
        size = os.path.getsize(archive)
        row = self._index.get(self.url, digest) if self._index is not None else None
        now = time.time()
        if row is not None and row.sha256 == sha and now - row.published_at < REUPLOAD_AFTER:
            return Published(uri=row.uri, reused=True, sha256=sha, size=size)
        uri = self._upload(archive)
        if self._index is not None:
            self._index.put(IndexRow(self.url, digest, uri, sha, size, now, now))
        return Published(uri=uri, reused=False, sha256=sha, size=size)
