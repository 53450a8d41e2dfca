"""A cached archive is used only while it has the bytes it was built with; no temp is left."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from flyte_jupyter.bundle import BundleRequest, make_bundle
from flyte_jupyter.errors import DamagedArchiveError
from flyte_jupyter.prepare import publish_bundle
from flyte_jupyter.settings import resolve_settings

FILES = {"main.py": "x = 1\n", "pkg/util.py": "def f():\n    return 2\n"}


def build(root, cache):
    return make_bundle(BundleRequest(root_dir=root, copy_style="all"), cache_dir=cache)


def flip(path, *, keep_stat=False):
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    if keep_stat:  # the damage a stat cannot see (bit rot, or a tool that restores mtimes)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_damaged_cached_archive_is_rebuilt(tree, cache):
    root = tree(FILES)
    first = build(root, cache)
    built = first.path.read_bytes()
    assert first.sha256 == hashlib.sha256(built).hexdigest()
    flip(first.path)
    again = build(root, cache)
    assert again.digest == first.digest
    assert again.path.read_bytes() == built
    assert again.sha256 == first.sha256


def test_an_archive_without_a_build_record_is_rebuilt(tree, cache):
    root = tree(FILES)
    first = build(root, cache)
    built = first.path.read_bytes()
    first.path.with_name(first.path.name + ".built").unlink()
    first.path.write_bytes(b"whoever wrote this, not this kernel")
    again = build(root, cache)
    assert again.path.read_bytes() == built


def test_damage_a_stat_cannot_see_is_caught_before_it_is_published(tree, cache, tmp_path):
    root = tree(FILES)
    store = tmp_path / "store"
    environ = {"FLYTE_JUPYTER_HOME": str(tmp_path / "home"), "FLYTE_JUPYTER_STORE": str(store)}
    settings = resolve_settings(start_dir=root, environ=environ)
    first = build(root, cache)
    built = first.path.read_bytes()
    flip(first.path, keep_stat=True)
    damaged = build(root, cache)  # one stat says nothing changed: handed on as it is
    with pytest.raises(DamagedArchiveError, match="Nothing was uploaded") as info:
        publish_bundle(damaged, settings)
    assert "run again" in str(info.value)
    assert not store.exists() or not any(store.iterdir())
    assert not first.path.exists()  # deleted, so the next build writes it again
    rebuilt = build(root, cache)
    published = publish_bundle(rebuilt, settings)
    assert (store / rebuilt.filename).read_bytes() == built
    assert published.sha256 == first.sha256


_KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from flyte_jupyter.bundle import BundleRequest, make_bundle
    from flyte_jupyter.progress import Progress

    def die(phase, done, total):
        os.kill(os.getpid(), signal.SIGKILL)  # killed while writing the archive

    request = BundleRequest(root_dir=Path(sys.argv[1]), copy_style="all")
    make_bundle(request, cache_dir=Path(sys.argv[2]), progress=Progress(die))
    """
)


def test_temp_files_of_killed_writers_are_removed_by_the_next_build(tree, cache):
    root = tree({**FILES, "big.bin": os.urandom(3 * 1024 * 1024)})
    proc = subprocess.run(  # noqa: PLW1510 - the kill is the point
        [sys.executable, "-c", _KILLED_WRITER, str(root), str(cache)], timeout=120
    )
    assert proc.returncode == -signal.SIGKILL
    bundles = cache / "bundles"
    left = [p for p in bundles.iterdir() if p.name.startswith(".tmp-")]
    assert left, "the killed writer left no temp file"
    a_minute_ago = time.time() - 120
    for temp in left:
        os.utime(temp, (a_minute_ago, a_minute_ago))
    # a live writer's temp (another process, writing right now) is left alone
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        busy = bundles / f".tmp-{live.pid}-busy.tar.gz"
        busy.write_bytes(b"being written")
        bundle = build(root, cache)
        names = {p.name for p in bundles.iterdir()}
        assert not any(t.name in names for t in left)
        assert busy.name in names
        assert bundle.filename in names
    finally:
        live.kill()
        live.wait()
