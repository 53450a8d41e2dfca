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
