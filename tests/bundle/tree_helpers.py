"""Helpers for bundle tests."""

import os
from pathlib import Path


def age(root: Path, seconds: int = 3600) -> None:
    """Backdate every file so the stat cache may trust it (not racily clean)."""
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            st = os.stat(path)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - seconds * 10**9))
