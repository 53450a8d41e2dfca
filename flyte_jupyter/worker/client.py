"""The kernel's side of the warm worker (see :mod:`flyte_jupyter.worker.server`).

One worker per kernel process, started on first use and never before (``%load_ext`` starts
nothing), ended with the kernel. It is invisible: a job it cannot take (not enabled, failed to
start, crashed, ended) returns None and the caller runs its cold path, a fresh interpreter; a
crash or a failed start says so once in a log line, never as an error of the user's cell.

The worker is keyed by the environment it starts from (the jobs' base environment: the kernel's
start-up environment plus the settings' env) and by the packages it can import: when either
changes (other settings, a ``pip install`` in the notebook) the next job starts a new worker.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

from flyte_jupyter._private import open_private, private_dir
from flyte_jupyter.redaction import redacting_logger
from flyte_jupyter.sdk import SDKS

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

T = TypeVar("T")

logger = redacting_logger(__name__)
START_TIMEOUT = 120.0  # seconds a new worker may take to import the SDKs
# Variables of a kernel's environment that neither a job nor the worker reads (python -I
# ignores PYTHONPATH and PYTHONSTARTUP): a change in them does not restart the worker.
_IGNORED = ("PYTHONPATH", "PYTHONSTARTUP", "MPLBACKEND")
_IGNORED_PREFIXES = ("JPY_",)


@dataclass(frozen=True)
class JobResult:
    """What a job left: its JSON result (None: it died first), exit status and output."""

    result: dict[str, Any] | None
    status: int
    output: str


class WorkerGone(Exception):  # noqa: N818 - a state, not a failure the user sees
    """The worker process ended or stopped answering."""


class Worker:
    """One running warm worker process."""

    def __init__(self, base_env: Mapping[str, str], log: Path) -> None:
        self.base_env = _key(base_env)
        self.log = log
        args = (
            ["--die-with-parent"] if threading.current_thread() is threading.main_thread() else []
        )
        modules = [module for entry in SDKS.values() for module in entry.warm]
        private_dir(log.parent)
        with open_private(log) as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-m", "flyte_jupyter.worker.server", *args, *modules],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                # flyte v2 reports to Sentry unless told not to: off unless the user said so
                env={"DO_NOT_TRACK": "1", **base_env},
                start_new_session=True,  # a kernel interrupt (SIGINT to its group) is not for it
            )
        self._buffer = b""
        self._next_id = 0
        self.path: list[str] | None = None
        self._site: dict[str, int] = {}

    # -- lifecycle -----------------------------------------------------------------------------

    def ready(self) -> None:
        """Wait for the worker's preload to end (raise :class:`WorkerGone` if it failed)."""
        if self.path is not None:
            return
        try:
            message = self._receive(time.monotonic() + START_TIMEOUT)
        except TimeoutError:
            msg = f"the worker did not import the SDKs within {START_TIMEOUT:.0f} s"
            raise WorkerGone(msg) from None
        if not message.get("ready"):
            raise WorkerGone(f"unexpected first message {message!r}")
        self.path = [str(p) for p in message["path"]]
        self._site = _site_state(self.path)

    def current(self, base_env: Mapping[str, str]) -> bool:
        """True if this worker still fits: alive, same environment, same packages."""
        if self.proc.poll() is not None or _key(base_env) != self.base_env:
            return False
        return self.path is None or _site_state(self.path) == self._site

    def close(self) -> None:
        """End the worker (its ``call`` children with it; spawned runs go on)."""
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()  # type: ignore[union-attr]
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError, ValueError):
                if stream is not None:
                    stream.close()

    # -- jobs ----------------------------------------------------------------------------------

    def call(
        self,
        target: str,
        request: Any,
        *,
        env: Mapping[str, str],
        cwd: Path,
        timeout: float,
    ) -> JobResult:
        """Run ``target(request)`` in a forked child; its result.

        Raises
        ------
        TimeoutError
            The job ran longer than ``timeout`` seconds: it was killed.
        WorkerGone
            The worker ended meanwhile.
        """
        self.ready()
        with tempfile.NamedTemporaryFile(prefix="fj-job-", suffix=".log") as output:
            ident = self._send("call", target, request, env, cwd, output.name)
            started = self._receive(time.monotonic() + START_TIMEOUT, ident)
            pid = int(started["pid"])
            try:
                done = self._receive(time.monotonic() + timeout, ident)
            except (TimeoutError, KeyboardInterrupt):
                _kill_group(pid)
                with contextlib.suppress(WorkerGone, TimeoutError):
                    self._receive(time.monotonic() + 10, ident)  # the child's end
                raise
            text = Path(output.name).read_text(encoding="utf-8", errors="replace")
        return JobResult(done.get("result"), int(done.get("status", 0)), text)

    def spawn(
        self,
        target: str,
        request: Any,
        *,
        env: Mapping[str, str],
        cwd: Path,
        output: Path,
    ) -> int:
        """Start ``target(request)`` in a new session, not waited for; its pid.

        Its stdout and stderr are appended to ``output``.
        """
        self.ready()
        ident = self._send("spawn", target, request, env, cwd, str(output))
        return int(self._receive(time.monotonic() + START_TIMEOUT, ident)["pid"])

    # -- protocol ------------------------------------------------------------------------------

    def _send(  # noqa: PLR0917 - one message's parts, in the order they are sent
        self,
        op: str,
        target: str,
        request: Any,
        env: Mapping[str, str],
        cwd: Path,
        output: str | None,
    ) -> int:
        self._next_id += 1
        message = {
            "id": self._next_id,
            "op": op,
            "target": target,
            "request": request,
            "env": dict(env),
            "cwd": str(cwd),
            "output": output,
        }
        stdin: IO[bytes] | None = self.proc.stdin
        try:
            assert stdin is not None  # noqa: S101 - Popen(stdin=PIPE)
            stdin.write(json.dumps(message).encode("utf-8") + b"\n")
            stdin.flush()
        except (OSError, ValueError) as exc:
            raise WorkerGone(str(exc)) from exc
        return self._next_id

    def _receive(self, deadline: float, ident: int | None = None) -> dict[str, Any]:
        stdout = self.proc.stdout
        assert stdout is not None  # noqa: S101 - Popen(stdout=PIPE)
        fd = stdout.fileno()
        while True:
            line, sep, rest = self._buffer.partition(b"\n")
            if sep:
                self._buffer = rest
                message: dict[str, Any] = json.loads(line)
                if ident is None or message.get("id") == ident:
                    return message
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], min(left, 1.0))
            if not ready:
                if self.proc.poll() is not None:
                    raise WorkerGone(f"the worker ended (exit {self.proc.returncode})")
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                raise WorkerGone(f"the worker ended (exit {self.proc.wait()})")
            self._buffer += chunk


class WarmPool:
    """The kernel's worker: started when first needed, replaced when it no longer fits."""

    def __init__(self) -> None:
        self.enabled = False
        self.log: Path | None = None
        self._worker: Worker | None = None
        self._lock = threading.RLock()
        self._warned: set[str] = set()

    def enable(self, log: Path) -> None:
        """Let jobs use a worker (the kernel session does; other processes stay cold)."""
        self.enabled = True
        self.log = log

    def disable(self) -> None:
        """Stop the worker and run every job cold from now on."""
        self.enabled = False
        self.close()

    def close(self) -> None:
        """End the worker, if one runs."""
        with self._lock:
            if self._worker is not None:
                self._worker.close()
                self._worker = None

    def start(self, base_env: Mapping[str, str]) -> None:
        """Start the worker for ``base_env`` now (its preload runs in the background)."""
        with self._lock:
            self._get(base_env)

    def call(
        self,
        target: str,
        request: Any,
        *,
        env: Mapping[str, str],
        base_env: Mapping[str, str],
        cwd: Path,
        timeout: float,
    ) -> JobResult | None:
        """``target(request)`` in a warm child; None when the caller must run it cold.

        Raises
        ------
        TimeoutError
            The job ran longer than ``timeout`` seconds and was killed.
        """
        return self._use(
            base_env,
            lambda worker: worker.call(target, request, env=env, cwd=cwd, timeout=timeout),
            WorkerGone,
        )

    def spawn(
        self,
        target: str,
        request: Any,
        *,
        env: Mapping[str, str],
        base_env: Mapping[str, str],
        cwd: Path,
        output: Path,
    ) -> int | None:
        """The pid of ``target(request)`` started from the worker; None: start it cold."""
        return self._use(
            base_env,
            lambda worker: worker.spawn(target, request, env=env, cwd=cwd, output=output),
            (WorkerGone, TimeoutError),
        )

    def _use(
        self,
        base_env: Mapping[str, str],
        job: Callable[[Worker], T],
        lost: type[Exception] | tuple[type[Exception], ...],
    ) -> T | None:
        """``job(worker)`` with the worker fitting ``base_env``; None when there is none.

        A worker that fails with ``lost`` is ended (the next job starts a new one).
        """
        with self._lock:
            worker = self._get(base_env)
            if worker is None:
                return None
            try:
                return job(worker)
            except lost as exc:
                self._lost(worker, exc)
                return None

    def _get(self, base_env: Mapping[str, str]) -> Worker | None:
        if not self.enabled or self.log is None:
            return None
        worker = self._worker
        if worker is not None and worker.proc.poll() is not None:
            how = _ended(worker.proc.returncode)
            self._say_once(
                str(worker.proc.pid), f"the warm worker had stopped ({how}); starting a new one"
            )
        if worker is not None and not worker.current(base_env):
            worker.close()
            worker = self._worker = None
        if worker is None:
            try:
                worker = self._worker = Worker(base_env, self.log)
            except OSError as exc:
                self._say_once("start", f"the warm worker did not start ({exc})")
                return None
        return worker

    def _lost(self, worker: Worker, exc: Exception) -> None:
        worker.close()
        if self._worker is worker:
            self._worker = None
        self._say_once(
            str(worker.proc.pid),
            f"the warm worker stopped ({exc}; its log: {self.log}); "
            "this job runs in a fresh interpreter and the next one starts a new worker",
        )

    def _say_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning("flyte_jupyter: %s", message)


def _key(env: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted(
            (k, v)
            for k, v in env.items()
            if k not in _IGNORED and not k.startswith(_IGNORED_PREFIXES)
        )
    )


def _site_state(path: list[str]) -> dict[str, int]:
    """Modification times of the import path's folders: an install changes one of them."""
    state = {}
    for entry in path:
        with contextlib.suppress(OSError):
            state[entry] = Path(entry).stat().st_mtime_ns
    return state


def _ended(code: int) -> str:
    return f"killed by signal {-code}" if code < 0 else f"exit {code}"


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


POOL = WarmPool()
atexit.register(POOL.close)
