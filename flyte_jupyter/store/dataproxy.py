"""Bundle archives sent through a Flyte cluster's data proxy (the ``store = "flyte"`` setting).

A backend beside :class:`~flyte_jupyter.store.BundleStore`, with the same ``publish``: for a
cluster whose bucket the kernel cannot write, the cluster hands out a signed upload URL per
archive (``CreateUploadLocation``, keyed by the archive's MD5), as ``pyflyte register`` uploads
its package, and the URI it names is where the cluster reads the bundle. Nothing here speaks to
Flyte: the upload function is handed in by the application layer, which holds the admin client.
Every publish uploads (the proxy cannot be asked what it has); the archive is sent only while it
has the bytes it was built with.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from flyte_jupyter.store.model import Published

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from flyte_jupyter.progress import Progress

FLYTE_STORE = "flyte"
"""The ``store`` value that sends bundles through Flyte's data proxy instead of a bucket."""


class DataProxyStore:
    """Publish archives through a Flyte data proxy.

    Parameters
    ----------
    upload
        Sends one file through the proxy and returns the URI the cluster reads it from
        (``RemoteLauncher.upload_file``); raises ``StoreError`` when the proxy refuses.
    """

    def __init__(self, upload: Callable[[Path], str]) -> None:
        self._upload = upload

    def __repr__(self) -> str:
        return "DataProxyStore()"

    def publish(
        self,
        archive: Path,
        digest: str,  # noqa: ARG002 - the proxy keys uploads by MD5, not by our digest
        *,
        progress: Progress | None = None,  # noqa: ARG002 - flytekit's upload reports nothing
        verify: bool = True,  # noqa: ARG002 - every publish uploads
        expected_sha256: str | None = None,
    ) -> Published:
        """Upload ``archive`` (only while it hashes to ``expected_sha256``); return its URI.

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
        uri = self._upload(archive)
        return Published(uri=uri, reused=False, sha256=sha, size=os.path.getsize(archive))
