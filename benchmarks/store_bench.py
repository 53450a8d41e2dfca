"""Benchmark the bundle store against raw s3fs on an in-process moto S3 server.

Usage: python benchmarks/store_bench.py [--quick] [--runs N]

Measures, for a ~50 MB and a ~200 MB archive (deterministic random bytes), the median of N
runs of ``BundleStore.publish`` (a fresh digest each run, so it really uploads) against
``s3fs.S3FileSystem.put`` of the same file, and the number of requests moto receives for a
publish whose digest is already indexed (target 0) and one whose index entry is stale (1).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

from flyte_jupyter.store import BundleStore, open_store

MB = 1_000_000
BUCKET = "bench"


class Counter:
    """WSGI middleware counting the S3 requests moto receives."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.count = 0
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not environ.get("PATH_INFO", "").startswith("/moto-api"):
            with self.lock:
                self.count += 1
        return self.app(environ, start_response)


def start_moto() -> tuple[Any, str, Counter]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # werkzeug looks up server.app for every request: wrapping it counts them all.
    wsgi_server = server._server  # noqa: SLF001 - moto exposes no hook for this
    counter = Counter(wsgi_server.app)
    wsgi_server.app = counter
    return server, f"http://{host}:{port}", counter


def make_archive(path: Path, size: int, seed: int) -> Path:
    rng = random.Random(seed)
    with path.open("wb") as out:
        left = size
        while left:
            chunk = min(left, 8 * MB)
            out.write(rng.randbytes(chunk))
            left -= chunk
    return path


def timed(func: Any) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def bench_size(store: BundleStore, raw: Any, archive: Path, runs: int) -> tuple[float, float]:
    """Return median seconds of (publish, raw put), runs interleaved to share any drift."""
    publish_s, raw_s = [], []
    for run in range(runs):
        digest = f"bench{archive.stat().st_size}r{run}{os.getpid()}"
        key = f"{BUCKET}/raw/{digest}.tar.gz"
        publish_s.append(timed(lambda d=digest: store.publish(archive, d)))
        raw_s.append(timed(lambda k=key: raw.put(str(archive), k)))
        # free moto's memory between runs (not timed)
        raw.rm([key, f"{BUCKET}/store/fast{digest}.tar.gz"])
    return statistics.median(publish_s), statistics.median(raw_s)


def count_requests(counter: Counter, func: Any) -> int:
    before = counter.count
    func()
    return counter.count - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 MB and 20 MB instead")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (median)")
    args = parser.parse_args()
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        os.environ.setdefault(key, value)
    sizes = (5 * MB, 20 * MB) if args.quick else (50 * MB, 200 * MB)

    import s3fs

    server, endpoint, counter = start_moto()
    raw = s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)
    raw.mkdir(BUCKET)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        options = {"endpoint_url": endpoint}
        store = open_store(f"s3://{BUCKET}/store", home=home, storage_options=options)
        for seed, size in enumerate(sizes):
            archive = make_archive(Path(tmp) / f"a{size}.tar.gz", size, seed)
            store.exists("warmup")  # both clients warm before timing
            raw.ls(BUCKET)
            pub, put = bench_size(store, raw, archive, args.runs)
            rows.append((size, pub, put))
            archive.unlink()

        small = make_archive(Path(tmp) / "dedup.tar.gz", 1 * MB, 99)
        store.publish(small, "dedup")
        hit = count_requests(counter, lambda: store.publish(small, "dedup"))
        stale_store = open_store(
            f"s3://{BUCKET}/store", home=home, storage_options=options, verify_after=0
        )
        stale = count_requests(counter, lambda: stale_store.publish(small, "dedup"))
    server.stop()

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"moto S3 at {endpoint}; median of {args.runs} runs; 1 MB = 10^6 bytes")
    print(f"{os.cpu_count()} CPUs, load average {load} (moto shares this process and CPUs)")
    print(f"{'size':>8} | {'publish MB/s':>12} | {'raw put MB/s':>12} | {'ratio':>6} | target")
    for size, pub, put in rows:
        ratio = put / pub
        print(
            f"{size / MB:>6.0f}MB | {size / MB / pub:>12.1f} | {size / MB / put:>12.1f} | "
            f"{ratio:>6.2f} | >= 0.90 {'ok' if ratio >= 0.90 else 'MISSED'}"
        )
    if args.quick:
        print("(quick sizes: fixed per-publish costs, one LIST + one sidecar PUT, dominate)")
    print(f"{'requests':>8} | dedup hit (indexed, fresh): {hit} (target 0)")
    print(f"{'':>8} | stale index entry: {stale} (expect 1)")


if __name__ == "__main__":
    main()
