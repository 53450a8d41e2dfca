"""Local-folder specifics: temp files, permissions, paths."""

from __future__ import annotations

import os
import stat
import time

from flyte_jupyter.store import open_store

DIGEST = "10ca1000" * 8
NAME = f"fast{DIGEST}.tar.gz"


def test_old_temp_files_of_killed_uploads_are_cleaned(tmp_path, archive):
    folder = tmp_path / "store"
    folder.mkdir()
    old = folder / f".{NAME}.abc123.tmp"
    recent = folder / f".{NAME}.def456.tmp"  # maybe another process, still uploading
    for temp in (old, recent):
        temp.write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    store = open_store(str(folder), home=tmp_path / "home")
    assert not store.exists(DIGEST)  # a temp file is never an object
    store.publish(archive, DIGEST)
    assert sorted(p.name for p in folder.iterdir()) == sorted([NAME, NAME + ".sha256", recent.name])


def test_published_files_are_world_readable(tmp_path, archive):
    store = open_store(str(tmp_path / "store"), home=tmp_path / "home")
    store.publish(archive, DIGEST)
    for name in (NAME, NAME + ".sha256"):
        mode = stat.S_IMODE((tmp_path / "store" / name).stat().st_mode)
        assert mode == 0o644


def test_bare_relative_path_is_a_local_folder(tmp_path, archive, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = open_store("rel/store", home=tmp_path / "home")
    assert store.url == f"file://{tmp_path}/rel/store"
    assert store.publish(archive, DIGEST).uri == f"file://{tmp_path}/rel/store/{NAME}"
    assert (tmp_path / "rel" / "store" / NAME).read_bytes() == archive.read_bytes()
