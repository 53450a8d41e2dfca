"""The store trusts the sha256 the kernel built, not the sidecar beside an object."""

from __future__ import annotations

import hashlib
import os

import pytest

from flyte_jupyter.errors import DamagedArchiveError, IntegrityError, StoreError
from flyte_jupyter.progress import Progress

DIGEST = "c0ffee" * 10
NAME = f"fast{DIGEST}.tar.gz"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def replace_object(case, data: bytes) -> None:
    """What someone with write access does: new bytes and a sidecar that matches them."""
    case.fs().makedirs(case.path("").rstrip("/"), exist_ok=True)
    case.write(NAME, data)
    case.write(NAME + ".sha256", f"{sha(data)}  {NAME}\n".encode())


def test_other_bytes_found_without_a_recent_check_are_replaced(case, archive):
    built = archive.read_bytes()
    case.open().publish(archive, DIGEST, expected_sha256=sha(built))
    replace_object(case, os.urandom(1000))
    stale = case.open(verify_after=0)  # the index row is old: nothing vouches for the bytes
    published = stale.publish(archive, DIGEST, expected_sha256=sha(built))
    assert not published.reused
    assert published.sha256 == sha(built)
    assert case.read(NAME) == built


def test_other_bytes_found_by_another_home_are_replaced(case, archive):
    built = archive.read_bytes()
    replace_object(case, os.urandom(1000))  # never published by this home: an index miss
    other = case.open()
    published = other.publish(archive, DIGEST, expected_sha256=sha(built))
    assert not published.reused
    assert case.read(NAME) == built
    again = case.open(verify_after=0).publish(archive, DIGEST, expected_sha256=sha(built))
    assert again.reused  # hashed, matches: nothing sent


def test_fetch_checks_the_built_sha256_not_the_sidecar(case, archive, tmp_path):
    built = archive.read_bytes()
    store = case.open()
    store.publish(archive, DIGEST, expected_sha256=sha(built))
    replace_object(case, b"other code")
    dest = tmp_path / "dest.tar.gz"
    with pytest.raises(IntegrityError, match="does not match what the kernel built"):
        store.fetch(DIGEST, dest, expected_sha256=sha(built))
    assert not dest.exists()


def test_a_damaged_archive_is_never_sent(case, archive):
    built = archive.read_bytes()
    expected = sha(built)
    damaged = bytearray(built)
    damaged[100] ^= 1
    archive.write_bytes(bytes(damaged))
    with pytest.raises(DamagedArchiveError, match="Nothing was uploaded"):
        case.open().publish(archive, DIGEST, expected_sha256=expected)
    assert case.names() == set()


def test_a_lone_sidecar_does_not_make_the_archive_present(case, archive):
    case.fs().makedirs(case.path("").rstrip("/"), exist_ok=True)
    case.write(NAME + ".sha256", f"{sha(archive.read_bytes())}  {NAME}\n".encode())
    store = case.open()
    assert not store.exists(DIGEST)
    assert not store.publish(archive, DIGEST).reused
    assert case.read(NAME) == archive.read_bytes()


def test_an_interrupted_upload_leaves_no_lone_sidecar(case, archive):
    def interrupt(_phase: str, _done: int, _total: int) -> None:
        raise RuntimeError("stop")  # at the first progress report: mid-way, or at the end

    with pytest.raises((RuntimeError, StoreError)):
        case.open().publish(archive, DIGEST, progress=Progress(interrupt))
    names = {n for n in case.names() if not n.startswith(".")}
    assert names in (set(), {NAME, NAME + ".sha256"})  # both or neither, never a lone sidecar
