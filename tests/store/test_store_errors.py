"""Bad input to the store: each error names the URL and says what to do."""

from __future__ import annotations

import errno
import importlib
import logging
import sqlite3
import sys
from pathlib import Path

import pytest

from flyte_jupyter.errors import StoreError
from flyte_jupyter.store import BundleStore, default_store_url, open_store, transport

DIGEST = "c0ffee00" * 8
NAME = f"fast{DIGEST}.tar.gz"


def test_unknown_protocol(tmp_path):
    with pytest.raises(StoreError) as info:
        open_store("nosuch://bucket/x", home=tmp_path)
    message = str(info.value)
    assert "Unknown protocol 'nosuch'" in message
    assert "nosuch://bucket/x" in message
    assert "s3://" in message


def test_protocol_package_not_installed(tmp_path, monkeypatch):
    registry = importlib.import_module("fsspec.registry")  # fsspec.registry is a mapping
    monkeypatch.delitem(registry._registry, "gs", raising=False)
    monkeypatch.setitem(sys.modules, "gcsfs", None)  # import gcsfs -> ImportError
    with pytest.raises(StoreError) as info:
        open_store("gs://bucket/bundles", home=tmp_path)
    message = str(info.value)
    assert "gs://bucket/bundles" in message
    assert "pip install gcsfs" in message


def test_store_url_points_at_a_file(tmp_path, archive):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    store = open_store(str(a_file), home=tmp_path / "home")
    for call in (lambda: store.publish(archive, DIGEST), lambda: store.exists(DIGEST)):
        with pytest.raises(StoreError) as info:
            call()
        assert f"The store URL file://{a_file} points at a file, not a folder" in str(info.value)
    assert a_file.read_text() == "not a folder"


@pytest.mark.skipif(not Path("/sys/fs").is_dir(), reason="needs Linux /sys")
def test_unwritable_folder(tmp_path, archive):
    # /sys refuses new folders, even to root: a real unwritable place.
    store = open_store("/sys/fs/flyte_jupyter_store", home=tmp_path)
    with pytest.raises(StoreError) as info:
        store.publish(archive, DIGEST)
    message = str(info.value)
    assert "file:///sys/fs/flyte_jupyter_store" in message
    assert "Make the folder writable or choose another store URL" in message


def test_read_only_file_system(tmp_path, archive, monkeypatch):
    def refuse(*_args, **_kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(transport.tempfile, "mkstemp", refuse)
    store = open_store(str(tmp_path / "store"), home=tmp_path)
    with pytest.raises(StoreError) as info:
        store.publish(archive, DIGEST)
    message = str(info.value)
    assert f"file://{tmp_path / 'store'}" in message
    assert "read-only file system. Choose a writable folder" in message


def test_full_disk_leaves_nothing_half_written(tmp_path, archive, monkeypatch):
    real_fsync = transport.os.fsync
    calls = []

    def fsync(fd):
        calls.append(fd)
        if len(calls) == 2:  # the sidecar went through; the archive hits a full disk
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(transport.os, "fsync", fsync)
    store = open_store(str(tmp_path / "store"), home=tmp_path / "home")
    with pytest.raises(StoreError) as info:
        store.publish(archive, DIGEST)
    message = str(info.value)
    assert f"file://{tmp_path / 'store'}" in message
    assert "no space left on the device" in message
    # nothing half written, and no sidecar left claiming an archive that is not there
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == []
    assert not store.exists(DIGEST)
    monkeypatch.undo()
    assert not store.publish(archive, DIGEST).reused  # the index did not claim it


def test_corrupt_index_is_rebuilt(tmp_path, archive, caplog):
    home = tmp_path / "home"
    home.mkdir()
    (home / "index.sqlite").write_bytes(b"this is not a database" * 100)
    store = open_store(str(tmp_path / "store"), home=home)
    with caplog.at_level(logging.WARNING, logger="flyte_jupyter.store.index"):
        assert not store.publish(archive, DIGEST).reused
    assert "The publish index" in caplog.text  # not "store index": which store?
    assert "is corrupt" in caplog.text
    assert str(home / "index.sqlite") in caplog.text
    aside = [p.name for p in home.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1
    assert store.publish(archive, DIGEST).reused
    with sqlite3.connect(home / "index.sqlite") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM published").fetchone()[0] == 1


def test_unusable_index_path(tmp_path, archive):
    (tmp_path / "index.sqlite").mkdir()  # a folder where the file should be
    store = open_store(str(tmp_path / "store"), home=tmp_path)
    with pytest.raises(StoreError, match="Cannot use the publish index") as info:
        store.publish(archive, DIGEST)
    assert str(tmp_path / "index.sqlite") in str(info.value)
    assert "which bundles are in which bundle store" in str(info.value)


def test_open_store_and_default_url(tmp_path):
    assert default_store_url(tmp_path) == f"file://{tmp_path}/store"
    store = open_store(default_store_url(tmp_path), home=tmp_path)
    assert isinstance(store, BundleStore)
    assert store.url == f"file://{tmp_path}/store"
    assert store._index.path == tmp_path / "index.sqlite"
    assert open_store(f"{tmp_path}/store/", home=tmp_path).url == store.url
    assert open_store("s3://bucket/prefix/", home=tmp_path).url == "s3://bucket/prefix"
    assert not (tmp_path / "store").exists()  # opening touches nothing
