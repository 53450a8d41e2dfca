"""Subprocess used by the fault tests: publish one archive, slowly, when told to.

Usage:
    python _child.py CONFIG_JSON   one publisher
    python _child.py --zygote      a fork server: one CONFIG_JSON per stdin line, each
                                   forked into a publisher (imports are paid once)

CONFIG keys: url, home, archive, digest, storage_options, chunksize, delay (seconds slept in
each progress callback), go_file (the publisher starts when this file exists).
A publisher writes "ready <digest> <pid>" once its store client is warm, then
"done <digest> <published json>".
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

from flyte_jupyter.progress import Progress
from flyte_jupyter.store import open_store


def _say(line: str) -> None:
    os.write(1, (line + "\n").encode())  # unbuffered: forked children share this pipe


def publisher(config: dict) -> None:
    store = open_store(
        config["url"], home=Path(config["home"]), storage_options=config["storage_options"]
    )
    if config.get("chunksize"):
        store._transport.chunksize = config["chunksize"]
    store.exists("warmup")  # create the client and its connection before timing starts
    delay = config["delay"]

    def slow(phase: str, done: int, total: int) -> None:
        del phase, done, total
        time.sleep(delay)

    _say(f"ready {config['digest']} {os.getpid()}")
    go = Path(config["go_file"])
    while not go.exists():
        time.sleep(0.002)
    published = store.publish(Path(config["archive"]), config["digest"], progress=Progress(slow))
    _say(f"done {config['digest']} {json.dumps(published.__dict__)}")


def zygote() -> None:
    with contextlib.suppress(ImportError):
        import s3fs  # noqa: F401 - paid once here, not in every forked publisher

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps children at once
    for line in sys.stdin:
        config = json.loads(line)
        if os.fork() == 0:
            try:
                publisher(config)
            finally:
                os._exit(0)


if __name__ == "__main__":
    if sys.argv[1] == "--zygote":
        zygote()
    else:
        publisher(json.loads(sys.argv[1]))
