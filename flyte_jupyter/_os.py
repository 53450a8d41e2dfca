"""Small operating-system helpers the core shares: file hashing, process liveness, forks."""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

_CHUNK = 1024 * 1024


def sha256_file(path: Path) -> str:
    """The sha256 (hex) of the file at ``path``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def close_fds_above_stdio(keep: Iterable[int] = ()) -> None:
    """In a forked child: close every descriptor but stdin, stdout, stderr and ``keep``.

    What ``subprocess``'s ``close_fds`` does for a new program: nothing of the parent (a
    lease, a pipe another process waits on to see this one end) stays open in the child.
    """
    low = 3
    for fd in sorted(set(keep)):
        os.closerange(low, fd)
        low = fd + 1
    try:
        limit = max(int(name) for name in os.listdir("/proc/self/fd")) + 1
    except (OSError, ValueError):
        limit = os.sysconf("SC_OPEN_MAX")
    os.closerange(low, limit)
