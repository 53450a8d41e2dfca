"""Supervise one local run: wait for a slot, run the command, record the result.

Started by the local launcher as ``python -m flyte_jupyter.launch.supervisor HOME RUN_ID DIR``
in a new session, so the run (supervisor and command) is one process group that ``cancel``
ends as a whole, and a kernel restart does not stop it. The command itself is flytekit's
container entrypoint; it knows nothing of flyte_jupyter.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from flyte_jupyter.launch.model import RunPaths
from flyte_jupyter.launch.runstore import RunStore

if TYPE_CHECKING:
    from collections.abc import Iterator

POLL = 0.1


@contextlib.contextmanager
def slot(slots_dir: Path, count: int) -> Iterator[None]:
    """Hold one of ``count`` run slots (file locks) until the block ends."""
    slots_dir.mkdir(parents=True, exist_ok=True)
    while True:
        for index in range(count):
            handle: IO[bytes] = (slots_dir / f"{index}.lock").open("ab")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield
            finally:
                handle.close()
            return
        time.sleep(POLL)


class Supervisor:
    """Runs the command of one run and writes its outcome to the run store."""

    def __init__(self, home: Path, run_id: str, root: Path) -> None:
        self.store = RunStore(home / "runs.sqlite")
        self.run_id = run_id
        self.paths = RunPaths(root)
        self.spec: dict[str, Any] = json.loads(self.paths.command.read_text(encoding="utf-8"))
        self.slots = home / "slots"
        self.child: subprocess.Popen[bytes] | None = None
        self.aborted = False

    def on_term(self, signum: int, _frame: object) -> None:
        """Cancel: stop the command, remember why."""
        self.aborted = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signum)

    def run(self) -> int:
        """Wait for a slot, run, record; the exit code is the command's."""
        signal.signal(signal.SIGTERM, self.on_term)
        signal.signal(signal.SIGINT, self.on_term)
        with slot(self.slots, int(self.spec["max_parallel"])):
            if self.aborted:
                self.store.update(self.run_id, "ABORTED", "cancelled while queued")
                return 1
            with self.paths.log.open("ab") as log:
                self.child = subprocess.Popen(
                    self.spec["argv"],
                    cwd=self.spec["cwd"],
                    env=self.spec["env"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
                self.store.update(self.run_id, "RUNNING", "started", extra=self._extra())
                code = self.child.wait()
        self.record(code)
        return code

    def _extra(self) -> dict[str, Any]:
        record = self.store.get(self.run_id)
        extra = dict(record.extra) if record else {}
        extra["child_pid"] = self.child.pid if self.child else None
        return extra

    def record(self, code: int) -> None:
        """Translate the command's outcome into a status."""
        outputs = self.paths.outputs / "outputs.pb"
        error = self.paths.outputs / "error.pb"
        if self.aborted:
            self.store.update(self.run_id, "ABORTED", "cancelled")
        elif error.exists():
            self.store.update(self.run_id, "FAILED", "the task raised", error=_error_text(error))
        elif code == 0 and outputs.exists():
            from flyte_jupyter.launch.literals import preview_map

            preview = preview_map(outputs.read_bytes())
            self.store.update(self.run_id, "SUCCEEDED", "done", outputs=preview)
        else:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            message = f"The run's process {how} without writing outputs; see its logs."
            self.store.update(self.run_id, "FAILED", message, error=message)


def _error_text(path: Path) -> str:
    from flyteidl.core import errors_pb2

    document = errors_pb2.ErrorDocument()
    document.ParseFromString(path.read_bytes())
    return document.error.message or "the task failed (empty error message)"


def main() -> None:
    """Entry point: ``python -m flyte_jupyter.launch.supervisor HOME RUN_ID DIR``."""
    home, run_id, root = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    supervisor = Supervisor(home, run_id, root)
    try:
        code = supervisor.run()
    except BaseException as exc:
        supervisor.store.update(
            run_id, "FAILED", "supervisor error", error=f"{type(exc).__name__}: {exc}"
        )
        raise
    os._exit(0 if code == 0 else 1)


if __name__ == "__main__":
    main()
