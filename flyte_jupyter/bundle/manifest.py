r"""The canonical manifest of a bundle and its digest.

One JSON object per line, sorted by path, after a version line::

    {"flyte_jupyter_manifest": 1}
    {"mode": "644", "path": "helpers/__init__.py", "sha256": "…", "size": 0}

Each field is delimited, so ``a/bc.py`` and ``ab/c.py`` with equal content can never produce
the same bytes (both SDKs' path hashes join path parts with no separator and can). The digest
is the sha256 of these bytes; it names the archive ``fast<digest>.tar.gz``.

A file name that is not valid UTF-8 reaches Python as a str with lone surrogates
(``os.fsdecode``'s surrogateescape: byte 0xE9 becomes U+DCE9). Such a path is written with
JSON ``\u`` escapes for every non-ASCII character (``"caf\udce9.txt"``), which JSON-decodes
back to the same str, so the bytes on disk are recoverable; a UTF-8 name never contains a
lone surrogate, so the two spellings cannot collide. The archive keeps the original bytes
(a pax ``hdrcharset=BINARY`` record; GNU tar and Python's tarfile restore them).
"""

from __future__ import annotations

import hashlib
import json
import json.encoder
from operator import attrgetter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from flyte_jupyter.bundle.model import ManifestEntry

MANIFEST_VERSION = 1
_HEADER = json.dumps({"flyte_jupyter_manifest": MANIFEST_VERSION})
_encode_string: Callable[[str], str] = json.encoder.encode_basestring  # json.dumps's, no ASCII
_encode_ascii: Callable[[str], str] = json.encoder.encode_basestring_ascii
_by_path = attrgetter("path")


def manifest_bytes(entries: Iterable[ManifestEntry]) -> bytes:
    """Canonical manifest text for ``entries`` (sorted by path).

    Each line is what ``json.dumps(record, sort_keys=True, ensure_ascii=False)`` gives for
    ``{"mode": "644", "path": …, "sha256": …, "size": …}``, formatted directly (the test
    suite checks the two agree); ``ensure_ascii=True`` for a path that is not valid UTF-8.
    """
    lines = [_HEADER]
    lines.extend(
        f'{{"mode": "{e.mode:o}", "path": {_encode_path(e.path)}, '
        f'"sha256": {_encode_string(e.sha256)}, "size": {e.size}}}'
        for e in sorted(entries, key=_by_path)
    )
    return ("\n".join(lines) + "\n").encode("utf-8")


def _encode_path(path: str) -> str:
    text = _encode_string(path)
    if text.isascii():  # the usual case, in one C call
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: a file name that is not UTF-8
        return _encode_ascii(path)
    return text


def manifest_digest(entries: Iterable[ManifestEntry]) -> str:
    """sha256 hex digest of the canonical manifest."""
    return hashlib.sha256(manifest_bytes(entries)).hexdigest()


def normal_mode(st_mode: int) -> int:
    """0o755 when any execute bit is set, else 0o644: the only modes a bundle records."""
    return 0o755 if st_mode & 0o111 else 0o644
