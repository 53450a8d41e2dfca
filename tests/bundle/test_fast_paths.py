"""The tree memo and the stat cache: an unchanged tree is recognised from stats alone, and any
change (content, new, removed or renamed file, ignore file, probed module) is not."""

import logging
import os
import time

import pytest

from flyte_jupyter.bundle import BundleRequest, make_bundle
from flyte_jupyter.bundle import build as build_module
from flyte_jupyter.bundle.memo import memo_path
from flyte_jupyter.bundle.probes import RACY_NS, StatKey, stat_key
from flyte_jupyter.bundle.statcache import StatCache
from flyte_jupyter.capture import CellLog
from flyte_jupyter.capture import build_module as capture_module

PROJECT = {
    "main.py": "import pkg.mod\n",
    "pkg/__init__.py": "",
    "pkg/mod.py": "VALUE = 1\n" * 50,
    "data/table.csv": "a,b\n1,2\n",
    "run.log": "log\n",
    ".gitignore": "*.log\n",
}


@pytest.fixture
def later(monkeypatch):
    """Run as if 10 s had passed since the tree was written: its stats are no longer racy."""
    real = time.time_ns
    monkeypatch.setattr(time, "time_ns", lambda: real() + 5 * RACY_NS)


@pytest.fixture
def selections(monkeypatch):
    """Count full selections (a memo hit makes none)."""
    calls = []
    original = build_module.select

    def counting(request):
        calls.append(request)
        return original(request)

    monkeypatch.setattr(build_module, "select", counting)
    return calls


def bundle_all(root, cache, **kw):
    return make_bundle(BundleRequest(root_dir=root, copy_style="all", **kw), cache_dir=cache)


@pytest.mark.usefixtures("later")
def test_unchanged_tree_is_served_from_the_memo(tree, cache, selections):
    root = tree(PROJECT)
    first = bundle_all(root, cache)
    stamp = first.path.stat().st_mtime_ns
    second = bundle_all(root, cache)
    assert len(selections) == 1
    assert second == first  # digest, entries, excluded, root: everything
    assert second.path.stat().st_mtime_ns == stamp
    fresh = bundle_all(root, cache.parent / "fresh-cache")  # the slow path agrees
    assert (fresh.digest, fresh.entries, fresh.excluded) == (
        first.digest,
        first.entries,
        first.excluded,
    )
    assert fresh.path.read_bytes() == first.path.read_bytes()


CHANGES = {
    "edit": lambda r: (r / "pkg/mod.py").write_text("VALUE = 2\n" * 50),
    "new file": lambda r: (r / "pkg/new.py").write_text("x = 1\n"),
    "removed file": lambda r: (r / "data/table.csv").unlink(),
    "renamed folder": lambda r: (r / "data").rename(r / "tables"),
    "ignore file": lambda r: (r / ".gitignore").write_text("*.csv\n"),
    "chmod +x": lambda r: os.chmod(r / "main.py", 0o755),
}


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
@pytest.mark.usefixtures("later")
def test_any_change_falls_back_to_a_full_selection(tree, cache, selections, change):
    root = tree(PROJECT)
    first = bundle_all(root, cache)
    change(root)
    second = bundle_all(root, cache)
    assert len(selections) == 2
    assert second.digest != first.digest
    expected = bundle_all(root, cache.parent / "fresh-cache")
    assert (second.digest, second.entries, second.excluded) == (
        expected.digest,
        expected.entries,
        expected.excluded,
    )
    assert bundle_all(root, cache) == second  # and the new state is memoised in turn
    assert len(selections) == 3


@pytest.mark.usefixtures("later")
def test_same_size_same_mtime_edit_is_caught_by_ctime(tree, cache, selections):
    root = tree(PROJECT)
    first = bundle_all(root, cache)
    path = root / "pkg/mod.py"
    st = path.stat()
    path.write_text("VALUE = 2\n" * 50)  # same size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime; ctime moves on
    assert bundle_all(root, cache).digest != first.digest
    assert len(selections) == 2


def test_a_fresh_tree_is_not_memoised(tree, cache, selections):
    """Stats younger than the timestamp granularity cannot vouch for anything (racily clean)."""
    root = tree(PROJECT)
    first = bundle_all(root, cache)
    assert not memo_path(cache, BundleRequest(root_dir=root, copy_style="all")).exists()
    assert bundle_all(root, cache).digest == first.digest
    assert len(selections) == 2


@pytest.mark.usefixtures("later")
def test_a_tree_with_symlinks_is_not_memoised(tree, cache, selections):
    root = tree(PROJECT)
    os.symlink(root / "pkg", root / "alias")
    first = bundle_all(root, cache)
    assert "alias/mod.py" in first.files
    assert bundle_all(root, cache) == first
    assert len(selections) == 2


@pytest.mark.usefixtures("later")
def test_a_missing_archive_is_written_again(tree, cache, selections):
    root = tree(PROJECT)
    first = bundle_all(root, cache)
    content = first.path.read_bytes()
    first.path.unlink()
    second = bundle_all(root, cache)
    assert second.path.read_bytes() == content
    assert len(selections) == 2


@pytest.mark.usefixtures("later")
def test_a_corrupt_memo_or_stat_cache_is_ignored(tree, cache, selections, caplog):
    root = tree(PROJECT)
    first = bundle_all(root, cache)
    memo = memo_path(cache, BundleRequest(root_dir=root, copy_style="all"))
    memo.write_bytes(b"\x00garbage")
    for stat_file in (cache / "stat").iterdir():
        stat_file.write_bytes(b"not marshal")
    with caplog.at_level(logging.WARNING):
        assert bundle_all(root, cache) == first
    assert "unreadable" in caplog.text or "corrupt" in caplog.text
    assert len(selections) == 2


@pytest.mark.usefixtures("later")
def test_limits_still_apply_to_a_memoised_result(tree, cache):
    from flyte_jupyter.bundle import BundleLimits
    from flyte_jupyter.errors import BundleTooLargeError

    root = tree({"big.bin": b"x" * 5000})
    bundle_all(root, cache)
    with pytest.raises(BundleTooLargeError):
        bundle_all(root, cache, limits=BundleLimits(warn_bytes=10, max_bytes=100))


def module_for(source, name="nb_t"):
    return capture_module(CellLog().add(None, source).records, ["t"], name)


@pytest.mark.usefixtures("later")
def test_auto_notices_a_module_that_appears_where_it_was_looked_for(tree, cache, selections):
    root = tree({"helpers/__init__.py": "", "helpers/util.py": "X = 1\n"})
    module = module_for("def t():\n    import helpers.util, lazy, pkg.deep\n")
    request = BundleRequest(root_dir=root, module=module)
    first = make_bundle(request, cache_dir=cache)
    assert first.files == ["helpers/__init__.py", "helpers/util.py", "nb_t.py"]
    assert make_bundle(request, cache_dir=cache) == first
    assert len(selections) == 1
    (root / "lazy.py").write_text("")
    assert "lazy.py" in make_bundle(request, cache_dir=cache).files
    (root / "pkg").mkdir()
    (root / "pkg/deep.py").write_text("")
    assert "pkg/deep.py" in make_bundle(request, cache_dir=cache).files
    (root / "helpers/util.py").write_text("from . import extra\n")
    (root / "helpers/extra.py").write_text("")
    assert "helpers/extra.py" in make_bundle(request, cache_dir=cache).files
    assert len(selections) == 4


def test_stat_cache_trusts_only_settled_hashes(tmp_path):
    path = tmp_path / "f.py"
    path.write_text("x")
    key = stat_key(os.stat(path))
    cache = StatCache(tmp_path / "stat", str(tmp_path) + os.sep)
    cache.record(str(path), key, "ab" * 32, time.time_ns())  # hashed just now: racy
    cache.record(str(path) + "2", key, "cd" * 32, time.time_ns() + 5 * RACY_NS)
    cache.save()
    again = StatCache(tmp_path / "stat", str(tmp_path) + os.sep)
    assert again.lookup(str(path), key) is None
    assert again.lookup(str(path) + "2", key) == "cd" * 32
    assert again.lookup(str(path) + "2", key._replace(size=key.size + 1)) is None


def test_stat_cache_keeps_rows_saved_meanwhile_by_another_process(tmp_path):
    settled = time.time_ns() + 5 * RACY_NS
    one = StatCache(tmp_path / "stat", "/p/")
    two = StatCache(tmp_path / "stat", "/p/")
    key = StatKey(dev=1, inode=2, size=3, mtime_ns=4, ctime_ns=5, mode=6)
    one.record("/p/a", key, "aa" * 32, settled)
    one.save()
    two.record("/p/b", key, "bb" * 32, settled)
    two.save()
    three = StatCache(tmp_path / "stat", "/p/")
    assert three.lookup("/p/a", key) == "aa" * 32
    assert three.lookup("/p/b", key) == "bb" * 32


@pytest.mark.usefixtures("later")
def test_touched_files_are_rehashed_not_recompressed(tree, cache, monkeypatch):
    root = tree(PROJECT)
    first = bundle_all(root, cache)
    stamp = first.path.stat().st_mtime_ns
    for name in PROJECT:
        os.utime(root / name, None)
    written = []
    monkeypatch.setattr(build_module, "write_archive", lambda *a, **_: written.append(a))
    assert bundle_all(root, cache).digest == first.digest
    assert not written
    assert first.path.stat().st_mtime_ns == stamp


def test_a_first_bundle_reads_each_file_once(tree, cache, monkeypatch):
    root = tree(PROJECT)
    hashed = []
    original = build_module._hash_unknown
    monkeypatch.setattr(build_module, "_hash_unknown", lambda *a: hashed.append(a) or original(*a))
    bundle_all(root, cache)  # no archive in the cache yet: none can match, nothing to pre-hash
    assert not hashed
    (root / "main.py").write_text("import pkg.mod  # edited\n")
    bundle_all(root, cache)  # an archive exists: the unknown file is hashed to look for it
    assert len(hashed) == 1
