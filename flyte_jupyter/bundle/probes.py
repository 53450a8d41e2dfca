"""What a selection consulted on disk, recorded so an unchanged tree can be recognised cheaply.

A selection depends on the listings of some folders (the walk, the module files probed for
``auto``, ``__init__.py`` files looked for) and on the content of some files (ignore files,
sources scanned for imports). :class:`Probes` stats each of them *before* it is consulted, so
a change made while the selection runs shows up as a different stat later: a memoised result
can only be reused while every recorded stat is unchanged (see :mod:`.memo`).

Creating, removing or renaming an entry changes its folder's mtime and ctime; replacing a
folder changes its inode. A folder that does not exist is recorded as ``None``.
"""

from __future__ import annotations

import os
import struct
import time
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Iterable

RACY_NS = 2_000_000_000  # coarse file systems store mtimes in 1-2 s steps


class StatKey(NamedTuple):
    """What must be unchanged for a file's hash to hold (compares equal to the plain tuple)."""

    dev: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int
    mode: int


PACKED_KEY = struct.Struct("<QQqqqQ")
"""A StatKey as 48 bytes, in field order: compact to store, and many compare as one bytes object."""


class FolderSig(NamedTuple):
    """What changes when an entry of a folder is created, removed or renamed, or it is replaced.

    Persisted in tree memos as a plain tuple (``marshal`` takes no tuple subclass; see
    :func:`flyte_jupyter.bundle.memo.remember`); a plain tuple compares equal to it.
    """

    mtime_ns: int
    ctime_ns: int
    inode: int


DirSig = FolderSig | None
"""A folder's :class:`FolderSig`, or None when it does not exist."""


def stat_key(st: os.stat_result) -> StatKey:
    """The key of a stat result."""
    return StatKey(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_mode)


def dir_sig(path: str) -> DirSig:
    """Signature of a folder's listing; None if it is missing. Other errors propagate."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    return FolderSig(st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def settled(times: Iterable[int], before_ns: int) -> bool:
    """True when every timestamp is older than ``before_ns`` by more than :data:`RACY_NS`.

    Git's "racily clean" rule: a change made in the same timestamp tick as a look at the file
    would leave its stat unchanged, so only stats that are old enough may vouch for content.
    """
    limit = before_ns - RACY_NS
    return all(t <= limit for t in times)


class Probes:
    """Folders whose listing and files whose content a selection consulted, stat'ed first."""

    def __init__(self) -> None:
        self.started_ns = time.time_ns()
        self.folders: dict[str, DirSig] = {}
        self.contents: dict[str, StatKey] = {}
        self.memoizable = True

    def folder(self, path: str) -> None:
        """Record ``path``'s listing signature (call before consulting the listing)."""
        if path not in self.folders:
            try:
                self.folders[path] = dir_sig(path)
            except OSError:
                self.memoizable = False

    def content(self, path: str) -> None:
        """Record the stat of a file about to be read; a missing file is left to its folder."""
        if path in self.contents:
            return
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError:
            self.memoizable = False
            return
        self.contents[path] = stat_key(st)

    def taint(self) -> None:
        """The selection depends on something not recorded here (a symlink, an I/O error)."""
        self.memoizable = False
