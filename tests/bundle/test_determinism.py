"""Same files -> same bytes; the digest tells trees apart that naive hashes confuse."""

import gzip
import io
import os
import tarfile

from tree_helpers import age

from flyte_jupyter.bundle import BundleRequest, make_bundle
from flyte_jupyter.bundle.tarball import BlockGzipWriter

PROJECT = {
    "main.py": "import pkg.mod\n",
    "pkg/__init__.py": "",
    "pkg/mod.py": "VALUE = 1\n" * 50,
    "data/table.csv": "a,b\n1,2\n",
}


def bundle_all(root, cache):
    return make_bundle(BundleRequest(root_dir=root, copy_style="all"), cache_dir=cache)


def test_same_tree_in_another_parent_gives_identical_bytes(tree, tmp_path):
    one = bundle_all(tree(PROJECT, "x/proj"), tmp_path / "c1")
    two = bundle_all(tree(PROJECT, "y/z/proj"), tmp_path / "c2")
    assert one.digest == two.digest
    assert one.path.read_bytes() == two.path.read_bytes()
    assert one.filename == f"fast{one.digest}.tar.gz"


def test_two_runs_give_identical_bytes(tree, tmp_path):
    root = tree(PROJECT)
    one = bundle_all(root, tmp_path / "c1").path.read_bytes()
    two = bundle_all(root, tmp_path / "c2").path.read_bytes()
    assert one == two


def test_path_boundaries_are_delimited(tree):
    one = bundle_all(tree({"a/bc.py": "x = 1\n"}, "one"), tree({}, "c1"))
    two = bundle_all(tree({"ab/c.py": "x = 1\n"}, "two"), tree({}, "c2"))
    assert one.digest != two.digest


def test_chmod_x_changes_the_digest_touch_does_not(tree, cache):
    root = tree(PROJECT)
    before = bundle_all(root, cache).digest
    os.utime(root / "main.py", None)
    assert bundle_all(root, cache).digest == before
    os.chmod(root / "main.py", 0o755)
    after = bundle_all(root, cache)
    assert after.digest != before
    assert {e.path: e.mode for e in after.entries}["main.py"] == 0o755


def test_archive_headers_are_normalised(tree, cache):
    root = tree(PROJECT)
    os.chmod(root / "main.py", 0o700)
    b = bundle_all(root, cache)
    raw = b.path.read_bytes()
    assert raw[:10] == b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # mtime 0, no name
    with tarfile.open(b.path) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == sorted(PROJECT)
    for m in members:
        assert (m.mtime, m.uid, m.gid, m.uname, m.gname) == (0, 0, 0, "", "")
        assert m.mode in (0o644, 0o755)
        assert m.isreg()
    assert {m.name: m.mode for m in members}["main.py"] == 0o755


def test_archive_content_matches_manifest(tree, cache):
    import hashlib

    b = bundle_all(tree(PROJECT), cache)
    with tarfile.open(b.path) as tar:
        for entry in b.entries:
            data = tar.extractfile(entry.path).read()
            assert hashlib.sha256(data).hexdigest() == entry.sha256
            assert len(data) == entry.size


def test_gzip_bytes_do_not_depend_on_thread_count():
    data = os.urandom(300_000) + b"compressible text " * 400_000
    outs = []
    for threads in (1, 2, 5):
        buf = io.BytesIO()
        gz = BlockGzipWriter(buf, threads=threads)
        for i in range(0, len(data), 70_001):
            gz.write(data[i : i + 70_001])
        gz.close()
        outs.append(buf.getvalue())
    assert outs[0] == outs[1] == outs[2]
    assert gzip.decompress(outs[0]) == data


def test_unchanged_tree_is_not_rebuilt(tree, cache):
    root = tree(PROJECT)
    age(root)
    first = bundle_all(root, cache)
    stamp = first.path.stat().st_mtime_ns
    second = bundle_all(root, cache)
    assert second.digest == first.digest
    assert second.path.stat().st_mtime_ns == stamp


def test_same_size_same_second_edit_is_detected(tree, cache):
    """An edit within the file system's timestamp tick must not be served from the cache."""
    root = tree(PROJECT)
    first = bundle_all(root, cache)
    path = root / "pkg/mod.py"
    st = path.stat()
    path.write_text("VALUE = 2\n" * 50)  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime
    assert bundle_all(root, cache).digest != first.digest


def _big_project(tree):
    """Over 3 MiB of text: several 1 MiB blocks, compressed on the worker threads."""
    files = {f"pkg/m{i:02d}.py": f"def f{i}(x):\n    return x * {i}\n" * 6_000 for i in range(12)}
    return tree({**PROJECT, **files})


def test_a_bundle_compressed_on_one_thread_or_many_has_the_same_bytes(tree, tmp_path, monkeypatch):
    from flyte_jupyter.bundle import gzblock

    root = _big_project(tree)
    monkeypatch.setattr(gzblock.os, "cpu_count", lambda: 4)
    many = bundle_all(root, tmp_path / "many")
    monkeypatch.setattr(gzblock.os, "cpu_count", lambda: 1)  # the writer then uses no pool
    one = bundle_all(root, tmp_path / "one")
    assert one.path.read_bytes() == many.path.read_bytes()
    assert one.digest == many.digest


def test_a_compressor_thread_failure_is_a_bundle_error_and_leaves_nothing(tree, cache, monkeypatch):
    import threading
    import zlib

    import pytest

    from flyte_jupyter.bundle import gzblock
    from flyte_jupyter.errors import BundleError

    real, calls = gzblock.compress_block, []

    def failing(*args, **kwargs):
        calls.append(threading.current_thread().name)
        if len(calls) == 2:
            raise zlib.error("simulated deflate failure")
        return real(*args, **kwargs)

    monkeypatch.setattr(gzblock, "compress_block", failing)
    monkeypatch.setattr(gzblock.os, "cpu_count", lambda: 2)
    with pytest.raises(BundleError, match="zlib failed to compress the archive") as info:
        bundle_all(_big_project(tree), cache)
    assert "simulated deflate failure" in str(info.value)
    assert "nothing was published" in str(info.value)
    assert isinstance(info.value.__cause__, zlib.error)
    assert calls[1].startswith("fj-gzip")  # it did fail on a worker thread
    assert os.listdir(cache / "bundles") == []  # no archive, no temp file left behind
    assert not [t for t in threading.enumerate() if t.name.startswith("fj-gzip")]
