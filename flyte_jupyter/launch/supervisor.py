"""Supervise one local run: wait for a slot, run the command, record the result.

Started by the local launcher as ``python -m flyte_jupyter.launch.supervisor HOME RUN_ID DIR``
with the run's environment as JSON on its stdin (so secrets never sit in the run's folder), in
a new session, so the run (supervisor and command) is one process group that ``cancel``
ends as a whole, and a kernel restart does not stop it. The command itself is flytekit's
container entrypoint; it knows nothing of flyte_jupyter.

While it lives, the supervisor renews its lease in the run store every second (see
:mod:`flyte_jupyter.launch.liveness`) and looks for a cancel request in the run folder, which
lets a process that cannot signal it (another container) stop the run. A watchdog child,
forked first, waits on a pipe whose other end only the supervisor holds: when the supervisor
ends in any way, even ``kill -9``, the watchdog stops whatever is left of the run's process
group and, if the supervisor died before recording an outcome, records the run FAILED.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from flyte_jupyter._private import open_private, private_dir
from flyte_jupyter.errors import LaunchError
from flyte_jupyter.launch.forked import ForkedCommand
from flyte_jupyter.launch.liveness import HEARTBEAT_EVERY, describe_exit, host_id, start_time
from flyte_jupyter.launch.model import RunPaths
from flyte_jupyter.launch.runstore import RunStore
from flyte_jupyter.redaction import redacting_logger

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from flyte_jupyter.sdk import FlyteSdk

POLL = 0.1
CANCEL_GRACE = 5.0  # seconds a requested cancel waits for the task before killing it
logger = redacting_logger(__name__)


@contextlib.contextmanager
def slot(slots_dir: Path, count: int, stop: Callable[[], bool] | None = None) -> Iterator[bool]:
    """Hold one of ``count`` run slots (file locks) until the block ends.

    Yields True with a slot held, or False when ``stop()`` became true while waiting.
    """
    private_dir(slots_dir)
    while stop is None or not stop():
        for index in range(count):
            handle: IO[bytes] = open_private(slots_dir / f"{index}.lock")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield True
            finally:
                handle.close()
            return
        time.sleep(POLL)
    yield False


class Supervisor:
    """Runs the command of one run and writes its outcome to the run store."""

    def __init__(
        self,
        home: Path,
        run_id: str,
        root: Path,
        env: Mapping[str, str] | None = None,
        *,
        warm: bool = False,
    ) -> None:
        self.run_store = RunStore(home / "runs.sqlite")
        self.home = home
        self.run_id = run_id
        self.paths = RunPaths(root)
        self.spec: dict[str, Any] = json.loads(self.paths.command.read_text(encoding="utf-8"))
        # the run's environment as the launcher handed it over (command.json keeps a redacted
        # part of it only); a command.json of an older version held it whole
        self.env = dict(env) if env is not None else dict(self.spec.get("env") or {})
        self.slots = home / "slots"
        # warm: this process was forked from the warm worker, with the SDKs imported; the
        # command's steps then run in a forked child (flyte_jupyter.launch.forked)
        self.warm = warm
        self.child: subprocess.Popen[bytes] | ForkedCommand | None = None
        self.aborted = False
        self.cancelled_at: float | None = None
        self.stopping = threading.Event()

    def on_term(self, signum: int, _frame: object) -> None:
        """Cancel: stop the command, remember why."""
        self.stop(signum)

    def stop(self, signum: int = signal.SIGTERM) -> None:
        """Stop the command (if it runs) and record the run as cancelled once it ends."""
        self.aborted = True
        if self.cancelled_at is None:
            self.cancelled_at = time.monotonic()
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)

    def run(self) -> int:
        """Wait for a slot, run, record; the exit code is the command's."""
        start_watchdog(self.run_store, self.run_id, self.paths)
        signal.signal(signal.SIGTERM, self.on_term)
        signal.signal(signal.SIGINT, self.on_term)
        self.run_store.heartbeat(self.run_id)
        threading.Thread(target=self._beat, name="flyte-heartbeat", daemon=True).start()
        try:
            return self._run()
        finally:
            self.stopping.set()

    def _run(self) -> int:
        with slot(self.slots, int(self.spec["max_parallel"]), lambda: self.aborted) as got:
            if self.aborted or not got:
                self.run_store.update(self.run_id, "ABORTED", "cancelled while queued")
                return 1
            argv = self._verified_argv()
            if argv is None:
                return 1
            env = dict(self.env)
            # a task that crashes the interpreter (segfault, abort) leaves its Python traceback
            env.setdefault("PYTHONFAULTHANDLER", "1")
            with self.paths.log.open("ab") as log:
                self.child = self._start(argv, env, log)
                note = self.spec.get("note")
                message = f"started {note}" if note else "started"
                self.run_store.update(self.run_id, "RUNNING", message, extra=self._extra())
                if self.cancelled_at is not None:  # cancelled while the command was starting
                    self.child.send_signal(signal.SIGTERM)
                code = self.child.wait()
        self.record(code)
        return code

    def _start(
        self, argv: list[str], env: dict[str, str], log: IO[bytes]
    ) -> subprocess.Popen[bytes] | ForkedCommand:
        if self.warm:
            sdk = str(self.spec.get("sdk") or "flytekit")
            return ForkedCommand(argv, cwd=self.spec["cwd"], env=env, log_fd=log.fileno(), sdk=sdk)
        return subprocess.Popen(
            argv,
            cwd=self.spec["cwd"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def _verified_argv(self) -> list[str] | None:
        """The command, reading the bundle from a copy checked against what the kernel built.

        None when the bundle cannot be fetched or is not the one built: the run is recorded
        FAILED with the reason, and nothing of the stored archive was extracted.
        """
        argv: list[str] = list(self.spec["argv"])
        entry = self.spec.get("bundle")
        if not entry:
            return argv
        from flyte_jupyter.launch.fetch import fetch_verified

        try:
            fetched = fetch_verified(entry, self.paths.root, self.env, self.home)
        except LaunchError as exc:
            with self.paths.log.open("a", encoding="utf-8") as log:
                log.write(f"flyte_jupyter: {exc}\n")
            self.run_store.update(self.run_id, "FAILED", "bundle check failed", error=str(exc))
            return None
        if fetched.note:
            with self.paths.log.open("a", encoding="utf-8") as log:
                log.write(f"flyte_jupyter: {fetched.note}\n")
            self.run_store.update(self.run_id, extra={**self._extra(), "bundle_note": fetched.note})
        return [str(fetched.path) if arg == entry["uri"] else arg for arg in argv]

    def _beat(self) -> None:
        """Renew the lease; act on a cancel request; kill a command that ignores one."""
        while not self.stopping.wait(HEARTBEAT_EVERY):
            try:
                self.run_store.heartbeat(self.run_id)
            except LaunchError as exc:  # the next beat may work; the lease tolerates a few
                logger.warning("flyte_jupyter: could not renew the run's lease: %s", exc)
            if not self.aborted and self.paths.cancel_request.exists():
                self.stop()
            child = self.child
            overdue = (
                self.cancelled_at is not None
                and time.monotonic() - self.cancelled_at > CANCEL_GRACE
            )
            if overdue and child is not None and child.poll() is None:
                child.kill()  # the watchdog ends whatever it started once this process ends

    def _extra(self) -> dict[str, Any]:
        record = self.run_store.get(self.run_id)
        extra = dict(record.extra) if record else {}
        pid = os.getpid()
        extra.update(pid=pid, started=start_time(pid), host=host_id())
        extra["child_pid"] = self.child.pid if self.child else None
        return extra

    def _sdk(self) -> FlyteSdk:
        """The SDK whose formats the run's files are in (flytekit for runs of earlier versions)."""
        from flyte_jupyter.sdk import load_sdk

        return load_sdk(str(self.spec.get("sdk") or "flytekit"))

    def record(self, code: int) -> None:
        """Translate the command's outcome into a status."""
        outputs = self.paths.outputs / "outputs.pb"
        error = self.paths.outputs / "error.pb"
        if self.aborted:
            self.run_store.update(self.run_id, "ABORTED", "cancelled")
        elif error.exists():
            message = self._sdk().error_message(error.read_bytes())
            self.run_store.update(self.run_id, "FAILED", "the task raised", error=message)
        elif code == 0 and outputs.exists():
            preview = self._sdk().preview_outputs(outputs.read_bytes())
            self.run_store.update(self.run_id, "SUCCEEDED", "done", outputs=preview)
        else:
            how = describe_exit(code, self.spec["argv"])
            message = f"The run's process {how} without writing outputs; see its logs."
            _append_log(self.paths, message)
            self.run_store.update(self.run_id, "FAILED", message, error=message)


def start_watchdog(run_store: RunStore, run_id: str, paths: RunPaths) -> None:
    """Fork the watchdog that outlives this process (see the module docstring).

    Call it before any thread starts: the child of a fork only has the forking thread.
    """
    supervisor = os.getpid()
    read_end, write_end = os.pipe()  # not inherited by the command: only we hold write_end
    if os.fork() != 0:
        os.close(read_end)
        return  # write_end stays open until this process ends, however it ends
    try:
        os.close(write_end)
        # Out of the run's process group, so that signals for the run (cancel, kill -9 of the
        # group) and scans of the group's members pass the watchdog by. The group is ended
        # only if the launcher made the supervisor its leader.
        owns_group = os.getpgid(0) == supervisor
        os.setpgid(0, 0)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while os.read(read_end, 1):
            pass
        _after_supervisor(run_store, run_id, paths, supervisor, owns_group=owns_group)
    except BaseException as exc:  # noqa: BLE001 - nobody else would see it: keep it in the log
        _append_log(paths, f"The run's watchdog failed: {type(exc).__name__}: {exc}")
    finally:
        os._exit(0)


def _after_supervisor(
    run_store: RunStore, run_id: str, paths: RunPaths, supervisor: int, *, owns_group: bool
) -> None:
    """The supervisor ended: stop what is left of the run, record an end it could not."""
    if owns_group:  # its process group: the task and anything the task started
        with contextlib.suppress(ProcessLookupError):
            os.killpg(supervisor, signal.SIGKILL)
    record = run_store.get(run_id)
    if record is None or record.done:
        return
    if paths.cancel_request.exists():  # killed by a cancel that ran out of patience
        run_store.update(run_id, "ABORTED", "cancelled")
        return
    message = (
        f"The run's supervisor (pid {supervisor}) was killed "
        "before the run ended; its task processes were stopped. Run it again."
    )
    _append_log(paths, message)
    run_store.update(run_id, "FAILED", "supervisor killed", error=message)


def _append_log(paths: RunPaths, message: str) -> None:
    with contextlib.suppress(OSError), paths.log.open("a", encoding="utf-8") as log:
        log.write(f"\n[flyte_jupyter] {message}\n")


def main() -> None:
    """Entry point: ``python -m flyte_jupyter.launch.supervisor HOME RUN_ID DIR``."""
    home, run_id, root = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    code = _supervise(Supervisor(home, run_id, root, _received_env()))
    os._exit(0 if code == 0 else 1)


def serve(request: Mapping[str, str]) -> None:
    """The warm worker's job (``spawn``): supervise the run, the environment being the run's.

    ``request``: ``home``, ``run_id``, ``root``, as :func:`main`'s arguments.
    """
    run = Supervisor(
        Path(request["home"]), request["run_id"], Path(request["root"]), dict(os.environ), warm=True
    )
    code = _supervise(run)
    os._exit(0 if code == 0 else 1)


def _supervise(supervisor: Supervisor) -> int:
    try:
        return supervisor.run()
    except BaseException as exc:
        supervisor.run_store.update(
            supervisor.run_id, "FAILED", "supervisor error", error=f"{type(exc).__name__}: {exc}"
        )
        raise


def _received_env() -> dict[str, str] | None:
    """The run's environment, as JSON on stdin (None when nothing was sent)."""
    data = sys.stdin.buffer.read() if sys.stdin is not None else b""
    if not data.strip():
        return None
    env = json.loads(data)
    return {str(k): str(v) for k, v in env.items()}


if __name__ == "__main__":
    main()
