"""Kill the uploading process at random points; publish one digest from two processes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flyte_jupyter.store import open_store
from flyte_jupyter.store.index import PublishIndex

CHILD = Path(__file__).with_name("_child.py")
REPO_ROOT = Path(__file__).resolve().parents[2]
MIB = 1024 * 1024
TRIALS = 20

pytestmark = pytest.mark.slow


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO_ROOT))


def _spawn(request, *configs: dict) -> list[subprocess.Popen]:
    """Start one publisher per config, all at once; wait until each is ready."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(CHILD), json.dumps(config)],
            stdout=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for config in configs
    ]
    request.addfinalizer(lambda: _reap(procs))
    for proc in procs:
        assert proc.stdout.readline().startswith("ready"), "child did not start"
    return procs


def _reap(children: list[subprocess.Popen]) -> None:
    for child in children:
        if child.poll() is None:
            child.kill()
        child.wait()
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                stream.close()


class Zygote:
    """A fork server: publishers start in milliseconds instead of re-importing s3fs."""

    def __init__(self, request):
        self.proc = subprocess.Popen(
            [sys.executable, str(CHILD), "--zygote"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        self.pids: dict[str, int] = {}
        request.addfinalizer(self.close)

    def start(self, *configs: dict) -> None:
        for config in configs:
            self.proc.stdin.write(json.dumps(config) + "\n")
        self.proc.stdin.flush()
        for _ in configs:
            word, digest, pid = self.proc.stdout.readline().split()
            assert word == "ready", "publisher did not start"
            self.pids[digest] = int(pid)

    def wait_done(self, digest: str) -> None:
        while True:
            line = self.proc.stdout.readline()
            assert line, "zygote died"
            if line.startswith(f"done {digest} "):
                return

    def kill(self, digest: str) -> None:
        pid = self.pids.pop(digest)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # gone once the zygote's kernel reaps it
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.001)
        pytest.fail(f"publisher {pid} survived SIGKILL")

    def close(self) -> None:
        for digest in list(self.pids):
            self.kill(digest)
        _reap([self.proc])


def _setup(kind, tmp_path, request):
    """Return (url, storage_options, payload bytes, chunksize, delay) for one backend."""
    if kind == "file":
        return f"file://{tmp_path / 'store'}", {}, 6 * MIB, None, 0.03
    moto = request.getfixturevalue("s3")
    # 12 MiB in 5 MiB parts: a real multipart upload (parts 5 + 5 + 2).
    return f"s3://{moto.bucket}/kill", {"endpoint_url": moto.endpoint}, 12 * MIB, 5 * MIB, 0.04


def _check_no_lie(store, case_fs_names, digest, archive_sha):
    """The final key holds the whole archive or nothing; an index row implies the object."""
    name = f"fast{digest}.tar.gz"
    names = {n for n in case_fs_names() if f"fast{digest}." in n}
    row = PublishIndex(store._index.path).get(store._index_key, digest)
    if name in names:
        assert name + ".sha256" in names, "object visible without its sidecar"
        assert store.exists(digest)
        fetched = store.fetch(digest, store._index.path.parent / "check.bin")
        assert hashlib.sha256(fetched.read_bytes()).hexdigest() == archive_sha
        fetched.unlink()
    else:
        assert row is None, "index row for an object that is not there"
    if row is not None:
        assert row.sha256 == archive_sha
    # temp files of killed local uploads are never taken for objects
    assert all(n in (name, name + ".sha256") or n.startswith(".") for n in names)
    return name in names


@pytest.mark.parametrize("kind", ["file", "s3"])
def test_sigkill_during_publish(kind, tmp_path, request):
    url, options, size, chunksize, delay = _setup(kind, tmp_path, request)
    rng = random.Random(1234)  # noqa: S311 - reproducible test data and kill times
    archive = tmp_path / "bundle.tar.gz"
    archive.write_bytes(rng.randbytes(size))
    archive_sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    home = tmp_path / "home"
    base = {
        "url": url,
        "home": str(home),
        "archive": str(archive),
        "storage_options": options,
        "chunksize": chunksize,
        "delay": delay,
    }
    store = open_store(url, home=home, storage_options=options)
    fs, root = store._transport.fs, store._transport.root

    def names():
        fs.invalidate_cache()
        return {p.rsplit("/", 1)[-1] for p in fs.find(root)} if fs.exists(root) else set()

    zygote = Zygote(request)
    go = tmp_path / "go"
    go.mkdir()
    # Calibrate: how long does one undisturbed publish take?
    zygote.start({**base, "digest": "calibrate", "go_file": str(go / "calibrate")})
    start = time.monotonic()
    (go / "calibrate").touch()
    zygote.wait_done("calibrate")
    duration = time.monotonic() - start

    digests = [f"kill{i:02d}" for i in range(TRIALS)]
    zygote.start(*({**base, "digest": d, "go_file": str(go / d)} for d in digests))
    complete = 0
    for i, digest in enumerate(digests):
        (go / digest).touch()
        time.sleep(rng.uniform(0, duration * 1.1))
        zygote.kill(digest)
        complete += _check_no_lie(store, names, digest, archive_sha)
        if i % 4 == 0:  # the next publish repairs whatever the killed one left
            published = store.publish(archive, digest, verify=True)
            assert published.sha256 == archive_sha
            assert _check_no_lie(store, names, digest, archive_sha)
    assert complete < TRIALS, "no kill landed before the object was published"


@pytest.mark.parametrize("kind", ["file", "s3"])
def test_two_processes_publish_one_digest(kind, tmp_path, request):
    url, options, size, chunksize, _ = _setup(kind, tmp_path, request)
    archive = tmp_path / "bundle.tar.gz"
    archive.write_bytes(random.Random(7).randbytes(size))  # noqa: S311 - test data
    go = tmp_path / "go"
    config = {
        "url": url,
        "archive": str(archive),
        "storage_options": options,
        "chunksize": chunksize,
        "delay": 0.0,
        "digest": "same",
        "go_file": str(go),
    }
    # two share an index (two kernels on one machine), one has its own (another machine)
    homes = [tmp_path / "home0", tmp_path / "home0", tmp_path / "home1"]
    children = _spawn(request, *({**config, "home": str(home)} for home in homes))
    go.touch()
    results = []
    for child in children:
        line = child.stdout.readline()
        assert child.wait(timeout=60) == 0
        assert line.startswith("done")
        results.append(json.loads(line.split(" ", 2)[2]))  # "done <digest> <json>"
    assert len({r["uri"] for r in results}) == 1
    assert len({r["sha256"] for r in results}) == 1
    store = open_store(url, home=tmp_path / "home0", storage_options=options)
    fs, root = store._transport.fs, store._transport.root
    fs.invalidate_cache()
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.find(root)) == [
        "fastsame.tar.gz",
        "fastsame.tar.gz.sha256",
    ]
    out = store.fetch("same", tmp_path / "out.tar.gz")
    assert out.read_bytes() == archive.read_bytes()


@pytest.mark.parametrize("kind", ["file", "s3"])
def test_a_later_publish_cleans_up_what_a_killed_upload_left(kind, tmp_path, request):
    """SIGKILL mid-upload leaves a lone sidecar and a temp file or an unfinished multipart
    upload; a later publish removes them once they are older than any live upload."""
    url, options, size, chunksize, _ = _setup(kind, tmp_path, request)
    archive = tmp_path / "bundle.tar.gz"
    archive.write_bytes(random.Random(5).randbytes(size))  # noqa: S311 - test data
    go = tmp_path / "go"
    config = {
        "url": url,
        "home": str(tmp_path / "killed-home"),
        "archive": str(archive),
        "storage_options": options,
        "chunksize": chunksize,
        "delay": 0.5,  # slow parts: time to see one arrive and kill the uploader
        "digest": "killed",
        "go_file": str(go),
    }
    zygote = Zygote(request)
    zygote.start(config)
    store = open_store(url, home=tmp_path / "home", storage_options=options)
    fs, root = store._transport.fs, store._transport.root
    name = "fastkilled.tar.gz"

    def leftovers():
        fs.invalidate_cache()
        names = {p.rsplit("/", 1)[-1] for p in fs.find(root)} if fs.exists(root) else set()
        found = {n for n in names if n.startswith((name, f".{name}."))}
        if kind == "s3":
            bucket, _, prefix = root.partition("/")
            uploads = fs.call_s3("list_multipart_uploads", Bucket=bucket, Prefix=prefix)
            found |= {f"upload:{u['Key']}" for u in uploads.get("Uploads") or []}
        return found

    go.touch()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # mid-upload: a sidecar and a partial archive
        seen = leftovers()
        if any(n.startswith(("upload:", f".{name}.")) for n in seen):
            break
        time.sleep(0.02)
    time.sleep(0.3)
    zygote.kill("killed")
    left = leftovers()
    assert name + ".sha256" in left
    assert name not in left
    assert len(left) == 2, left  # the lone sidecar, and a temp file or an unfinished upload
    assert not store.exists("killed")  # a lone sidecar never counts as the archive

    other = tmp_path / "other.tar.gz"
    other.write_bytes(b"another bundle")
    store.publish(other, "young")
    if kind == "file":  # moto reports every multipart upload as initiated in 2010
        assert leftovers() == left  # younger than any live upload could be: kept

    late = open_store(url, home=tmp_path / "later-home", storage_options=options)
    late.leftovers_after = 0  # as if an hour had passed
    late.publish(other, "later")
    assert leftovers() == set()
    assert not late.publish(archive, "killed", verify=True).reused  # published whole now
