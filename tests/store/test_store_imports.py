"""The store is core code: no notebook UI imports, and cloud SDKs only when a URL needs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import flyte_jupyter.store

REPO_ROOT = Path(__file__).resolve().parents[2]

CHECK = """
import sys
import flyte_jupyter.store
from pathlib import Path
heavy = {"IPython", "ipywidgets", "tornado", "s3fs", "botocore", "aiobotocore", "gcsfs"}
print(sorted(heavy & set(sys.modules)))
flyte_jupyter.store.open_store("file:///tmp/x", home=Path("/tmp/unused"))
print(sorted(heavy & set(sys.modules)))
"""


def test_no_heavy_imports():
    out = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert out[:2] == ["[]", "[]"]


def test_public_api():
    assert sorted(flyte_jupyter.store.__all__) == [
        "BundleStore",
        "Published",
        "default_store_url",
        "open_store",
    ]
    for name in flyte_jupyter.store.__all__:
        assert hasattr(flyte_jupyter.store, name)
