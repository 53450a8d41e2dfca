"""The warm worker: a pre-imported interpreter that forks a clean child per job.

Started by :mod:`flyte_jupyter.worker.client` as ``python -I -m flyte_jupyter.worker.server
MODULE...``: isolated mode (no user site, no ``PYTHONPATH``, no current folder on the path), in
its own session, from the environment the kernel's jobs start from. It imports the installed
SDKs' entrypoint modules once (the MODULEs that exist), says it is ready, then reads one JSON
request per line on stdin and answers on stdout:

* ``call``: fork a child that runs ``module:function(request)`` with the job's environment and
  folder, its output in a file, and sends back the function's JSON result (an exception becomes
  ``{"ok": false, "type", "message", "traceback"}``);
* ``spawn``: fork a child in a new session that runs ``module:function(request)`` and is not
  waited for (a run's supervisor); its pid is sent back at once.

A child has no thread of this process, none of the notebook's memory (this process never had
any) and only the job's environment: what an import sees is the environment's packages and the
paths the job adds, as in a fresh ``python -I``. The SDKs' import-time state that depends on the
environment is rebuilt in each child (:meth:`flyte_jupyter.sdk.FlyteSdk.after_fork`).

The server ends when stdin closes (the kernel ended, however it ended); children of ``spawn``
outlive it by design (a run outlives its kernel), children of ``call`` are killed with it.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import select
import signal
import sys
from typing import TYPE_CHECKING, Any, NoReturn

from flyte_jupyter._os import close_fds_above_stdio
from flyte_jupyter.worker.child import become, failure, run_and_exit

if TYPE_CHECKING:
    from collections.abc import Iterator

REAP_EVERY = 1.0  # seconds between two looks for ended spawned children


def main() -> None:
    """Preload, say ready, serve requests until stdin closes."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    # stdout is the protocol's alone: whatever a preloaded module prints goes to stderr
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # an interrupt is for the kernel's cell
    args = sys.argv[1:]
    if args[:1] == ["--die-with-parent"]:
        _die_with_parent()
        args = args[1:]
    loaded = _preload(args)
    _send(protocol, {"ready": True, "pid": os.getpid(), "path": sys.path, "loaded": loaded})
    spawned: set[int] = set()
    for line in _lines(0, spawned):
        request = json.loads(line)
        if request["op"] == "spawn":
            pid = _spawn(request)
            spawned.add(pid)
            _send(protocol, {"id": request["id"], "pid": pid})
        else:
            _call(protocol, request)


def _lines(fd: int, spawned: set[int]) -> Iterator[bytes]:
    """Lines read from ``fd`` until it closes; ended spawned children are reaped meanwhile."""
    pending = b""
    while True:
        _reap(spawned)
        ready, _, _ = select.select([fd], [], [], REAP_EVERY)
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line.strip())


def _preload(modules: list[str]) -> list[str]:
    loaded = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - an SDK that is not installed is not preloaded
            continue
        loaded.append(name)
    from flyte_jupyter.sdk import imported_sdks

    for sdk in imported_sdks():
        sdk.before_fork()
    return loaded


def _call(protocol: Any, request: dict[str, Any]) -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(request, write_end, new_session=False)
    os.close(write_end)
    _send(protocol, {"id": request["id"], "pid": pid})
    with os.fdopen(read_end, "rb") as result:
        data = result.read()
    _, status = os.waitpid(pid, 0)
    try:
        parsed = json.loads(data) if data else None
    except json.JSONDecodeError:
        parsed = None
    _send(protocol, {"id": request["id"], "done": True, "result": parsed, "status": status})


def _spawn(request: dict[str, Any]) -> int:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.close(write_end)
        _child(request, None, new_session=True)
    os.close(read_end)
    os.close(write_end)
    return pid


def _child(request: dict[str, Any], result_fd: int | None, *, new_session: bool) -> NoReturn:
    """In the forked child: become the job, run it, end (never returns)."""

    def job() -> int:
        if new_session:
            os.setsid()  # its own process group, as ``start_new_session``: cancel ends all of it
        else:
            os.setpgid(0, 0)  # a job killed on timeout takes what it started with it
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _redirect(request.get("output"))
        close_fds_above_stdio({result_fd} if result_fd is not None else set())
        become(request["env"], request["cwd"])
        module, _, function = request["target"].partition(":")
        try:
            result = getattr(importlib.import_module(module), function)(request["request"])
        except Exception as exc:  # noqa: BLE001 - reported to the kernel, which raises
            result = failure(exc)
        if result_fd is not None:
            with os.fdopen(result_fd, "w", encoding="utf-8") as out:
                json.dump(result, out)
        return 0

    run_and_exit(job)


def describe(request: dict[str, Any]) -> dict[str, Any]:
    """A job that tells what a child sees: its pid, folder, variables, path and modules.

    ``request``: ``{"variables": [...], "modules": [...]}``, the names to report on.
    """
    return {
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "env": {name: os.environ.get(name) for name in request.get("variables", [])},
        "path": sys.path,
        "imported": [name for name in request.get("modules", []) if name in sys.modules],
    }


def _redirect(output: str | None) -> None:
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    target = os.open(output, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600) if output else null
    os.dup2(target, 1)
    os.dup2(target, 2)


def _reap(spawned: set[int]) -> None:
    for pid in list(spawned):
        with contextlib.suppress(ChildProcessError):
            done, _ = os.waitpid(pid, os.WNOHANG)
            if not done:
                continue
        spawned.discard(pid)


def _send(protocol: Any, message: dict[str, Any]) -> None:
    protocol.write(json.dumps(message) + "\n")


def _die_with_parent() -> None:
    """Linux: be sent SIGKILL when the kernel's thread that started this process ends.

    The kernel passes ``--die-with-parent`` only when its main thread starts the worker, whose
    end is the kernel's end. stdin closing ends the worker anyway; this also covers a kernel
    whose forked children (``multiprocessing``) still hold the other end of the pipe.
    """
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
        if os.getppid() == 1:  # the kernel ended before prctl took effect
            os._exit(0)


if __name__ == "__main__":
    main()
