import os
from pathlib import Path

import pytest


def make_tree(root: Path, spec: dict[str, str | bytes]) -> Path:
    """Write a declarative tree: {relative path: content}; returns root."""
    for rel, content in spec.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


@pytest.fixture
def tree(tmp_path):
    def build(spec, name="proj"):
        return make_tree(tmp_path / name, spec)

    return build


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def age(root: Path, seconds: int = 3600) -> None:
    """Backdate every file so the stat cache may trust it (not racily clean)."""
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            st = os.stat(path)
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - seconds * 10**9))
