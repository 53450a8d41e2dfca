"""One contract, three backends: memory://, file:// and s3:// (moto)."""

from __future__ import annotations

import hashlib

import pytest

from flyte_jupyter.errors import IntegrityError, StoreError
from flyte_jupyter.progress import Progress
from flyte_jupyter.store import BundleStore, Published, fsspec_store

DIGEST = "0123abcd" * 8
NAME = f"fast{DIGEST}.tar.gz"


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_publish_then_reuse(case, archive):
    store = case.open()
    first = store.publish(archive, DIGEST)
    assert first == Published(
        store.uri_for(DIGEST), reused=False, sha256=sha(archive), size=archive.stat().st_size
    )
    assert first.uri.endswith(f"/{NAME}")
    assert case.read(NAME) == archive.read_bytes()
    assert case.read(NAME + ".sha256") == f"{sha(archive)}  {NAME}\n".encode()
    assert case.names() == {NAME, NAME + ".sha256"}

    second = store.publish(archive, DIGEST)
    assert second == Published(first.uri, reused=True, sha256=first.sha256, size=first.size)


def test_uri_format(case):
    uri = case.open().uri_for(DIGEST)
    if case.kind == "s3":
        assert uri == f"s3://bundles/prefix/{NAME}"
    elif case.kind == "file":
        assert uri == f"{case.url}/{NAME}"
        assert uri.startswith("file:///")
    else:
        assert uri.startswith("memory://")
        assert uri.endswith(f"/store/{NAME}")


def test_exists_asks_the_store(case, archive):
    store = case.open()
    assert not store.exists(DIGEST)
    store.publish(archive, DIGEST)
    assert store.exists(DIGEST)
    case.remove(NAME)
    assert not store.exists(DIGEST)  # the index still has a row: exists() ignores it


def test_fetch_verifies_and_writes_dest(case, archive, tmp_path):
    store = case.open()
    store.publish(archive, DIGEST)
    dest = tmp_path / "out" / "a.tar.gz"
    assert store.fetch(DIGEST, dest) == dest
    assert dest.read_bytes() == archive.read_bytes()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["a.tar.gz"]


def test_fetch_missing_names_uri(case, tmp_path):
    store = case.open()
    dest = tmp_path / "x.tar.gz"
    with pytest.raises(StoreError, match="is not in the store") as info:
        store.fetch(DIGEST, dest)
    assert store.uri_for(DIGEST) in str(info.value)
    assert not dest.exists()


def test_corrupt_object_detected_on_fetch(case, archive, tmp_path):
    store = case.open()
    store.publish(archive, DIGEST)
    data = bytearray(archive.read_bytes())
    data[1000] ^= 0xFF
    case.write(NAME, bytes(data))
    dest = tmp_path / "out" / "a.tar.gz"
    with pytest.raises(IntegrityError) as info:
        store.fetch(DIGEST, dest)
    message = str(info.value)
    assert store.uri_for(DIGEST) in message
    assert "Delete both objects and publish the bundle again" in message
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no partial file either


def test_object_without_sidecar_is_absent_and_republished(case, archive):
    store = case.open(verify_after=0)
    store.publish(archive, DIGEST)
    case.remove(NAME + ".sha256")
    assert not store.exists(DIGEST)
    again = store.publish(archive, DIGEST)
    assert not again.reused
    assert case.read(NAME + ".sha256").startswith(again.sha256.encode())


def test_unreadable_sidecar_is_absent(case, archive):
    store = case.open()
    store.publish(archive, DIGEST)
    case.write(NAME + ".sha256", b"not a hash but long enough to pass any size check" * 2)
    assert not store.exists(DIGEST)
    with pytest.raises(StoreError, match="no readable"):
        store.fetch(DIGEST, archive.parent / "dest")


class FakeClock:
    def __init__(self):
        self.now = 1_000_000.0

    def time(self):
        return self.now


def test_deleted_object_reuploaded_after_stale_index(case, archive, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(fsspec_store, "time", clock)
    store = case.open(verify_after=300)
    store.publish(archive, DIGEST)
    case.remove(NAME)
    clock.now += 299
    assert store.publish(archive, DIGEST).reused  # index entry still fresh: trusted
    clock.now += 2
    again = store.publish(archive, DIGEST)
    assert not again.reused
    assert case.read(NAME) == archive.read_bytes()


def test_verify_true_rechecks_the_store(case, archive):
    store = case.open()
    store.publish(archive, DIGEST)
    case.remove(NAME)
    assert not store.publish(archive, DIGEST, verify=True).reused
    assert store.publish(archive, DIGEST, verify=True).reused


def test_index_miss_reuses_existing_object(case, archive, tmp_path):
    case.open().publish(archive, DIGEST)
    other_home = BundleStore(
        case.url, index_path=tmp_path / "other.sqlite", storage_options=case.storage_options
    )
    result = other_home.publish(archive, DIGEST)
    assert result.reused
    assert result.sha256 == sha(archive)


def test_progress_reports_final_total(case, archive):
    calls = []
    store = case.open()
    progress = Progress(lambda _phase, done, total: calls.append((done, total)))
    store.publish(archive, DIGEST, progress=progress)
    size = archive.stat().st_size
    assert calls
    assert calls[-1] == (size, size)
    assert all(total == size for _, total in calls)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    calls.clear()
    store.publish(archive, DIGEST, progress=progress)
    assert calls == []  # reuse sends nothing


def test_empty_archive(case, tmp_path):
    empty = tmp_path / "empty.tar.gz"
    empty.write_bytes(b"")
    calls = []
    progress = Progress(lambda _phase, d, t: calls.append((d, t)))
    published = case.open().publish(empty, DIGEST, progress=progress)
    assert published.size == 0
    assert calls[-1] == (0, 0)
    case.open().fetch(DIGEST, tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == b""


def test_stores_are_separate_in_the_index(case, archive, tmp_path):
    store = case.open()
    store.publish(archive, DIGEST)
    other = BundleStore(f"file://{tmp_path / 'elsewhere'}", index_path=case.home / "index.sqlite")
    assert not other.publish(archive, DIGEST).reused


def test_bad_digest_rejected(case, archive):
    with pytest.raises(ValueError, match="Not a bundle digest"):
        case.open().publish(archive, "../escape")


def test_missing_archive(case, tmp_path):
    with pytest.raises(StoreError, match="Build the bundle archive first") as info:
        case.open().publish(tmp_path / "nope.tar.gz", DIGEST)
    assert case.url in str(info.value)
