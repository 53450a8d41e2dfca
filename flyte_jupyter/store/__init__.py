"""Content-addressed store for bundle archives, over any fsspec URL.

Contract
--------
- An archive lives at ``<store url>/fast<digest>.tar.gz``; its sha256 is recorded beside it in
  ``fast<digest>.tar.gz.sha256`` (sha256sum format), written *before* the archive. An archive
  without a readable sidecar counts as absent and is uploaded again. Nothing else is written.
- ``BundleStore.publish`` uploads only what the store lacks. A local SQLite index (WAL mode)
  remembers what was published where: an entry verified less than ``verify_after`` seconds ago
  costs no network call at all; an older one (or ``verify=True``) costs one existence check
  (one LIST request on S3), and a missing object is uploaded again.
- Publishing is atomic: a reader never sees a partial object under the final key (local: temp
  file in the same folder + ``os.replace``; S3: one PUT, or a multipart upload that is only
  visible once completed). The index row is written after the object. Two processes that
  publish the same digest at once both succeed and leave one object.
- ``BundleStore.fetch`` verifies the sha256 before the destination file appears: the one the
  caller built (``expected_sha256``) when given, else the sidecar's. ``publish`` with
  ``expected_sha256`` sends an archive only while it hashes to it, and hashes an object found
  without a fresh index entry, replacing it when its bytes differ.
- A failed upload removes its sidecar; what killed uploads left (lone sidecars, temp files,
  unfinished S3 multipart uploads of ``fast*.tar.gz`` keys) is swept by a later upload once it
  is older than ``BundleStore.leftovers_after``.
- Transient errors (connection, timeout, throttling, 5xx) are retried with exponential
  backoff; everything else fails at once. Every failure is a
  :class:`~flyte_jupyter.errors.StoreError` whose message names the URL and the fix; a
  checksum mismatch is an :class:`~flyte_jupyter.errors.IntegrityError`.
- ``publish`` and ``fetch`` report the bytes they move to a
  :class:`~flyte_jupyter.progress.Progress` as its ``upload`` and ``download`` phases (an
  fsspec callback handed to ``put_file``/``get_file``); a reused archive reports nothing.
- Opening a store makes no network call; s3fs (and other backends) are imported by fsspec
  only when a URL needs them.
"""

from __future__ import annotations

from flyte_jupyter.store.fsspec_store import BundleStore, default_store_url, open_store
from flyte_jupyter.store.model import Published

__all__ = ["BundleStore", "Published", "default_store_url", "open_store"]
