"""A run's command in a child forked from a warm supervisor: the steps, not the processes.

A supervisor started from the warm worker (:mod:`flyte_jupyter.worker`) has the SDKs imported.
Instead of starting the pod's command (``pyflyte-fast-execute``, which starts
``pyflyte-execute``; or flyte's ``a0``), it forks a child that runs the same entrypoint code
in-process (:meth:`flyte_jupyter.sdk.FlyteSdk.run_in_process`): flytekit's or flyte's own
functions download and extract the bundle, load the task from it and run it, with the run's
environment, folder and log. A command that is not the SDK's is executed as it is.

:class:`ForkedCommand` offers the part of :class:`subprocess.Popen` the supervisor uses.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, NoReturn

from flyte_jupyter._os import close_fds_above_stdio
from flyte_jupyter.worker.child import become, run_and_exit

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

WAIT_POLL = 0.01  # seconds between two looks for the child's end


class ForkedCommand:
    """``argv`` run in a forked child by the SDK ``sdk``, its output appended to ``log_fd``."""

    def __init__(
        self, argv: Sequence[str], *, cwd: str, env: Mapping[str, str], log_fd: int, sdk: str
    ) -> None:
        self.args = list(argv)
        self.returncode: int | None = None
        self._lock = threading.Lock()
        pid = os.fork()
        if pid == 0:
            _child(self.args, cwd, env, log_fd, sdk)
        self.pid = pid

    def poll(self) -> int | None:
        """The exit code (negative: killed by that signal) once ended, else None."""
        with self._lock:
            if self.returncode is None:
                try:
                    done, status = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:  # reaped elsewhere: its status is lost
                    self.returncode = 1
                else:
                    if done:
                        self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode

    def wait(self) -> int:
        """Wait for the end; the exit code."""
        while (code := self.poll()) is None:
            time.sleep(WAIT_POLL)
        return code

    def send_signal(self, signum: int) -> None:
        """Signal the child if it still runs."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def kill(self) -> None:
        """SIGKILL the child if it still runs."""
        self.send_signal(signal.SIGKILL)


def _child(argv: list[str], cwd: str, env: Mapping[str, str], log_fd: int, sdk: str) -> NoReturn:
    """In the child: become the command (never returns)."""

    def command() -> int:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        # nothing of the supervisor's (its lease, the watchdog's pipe) stays open in the task
        close_fds_above_stdio()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        if env.get("PYTHONFAULTHANDLER"):
            faulthandler.enable()
        become(env, cwd)
        from flyte_jupyter.sdk import load_sdk

        result = load_sdk(sdk).run_in_process(argv)
        if result is None:  # not the SDK's command: run it as it is
            sys.stdout.flush()
            os.execvpe(argv[0], argv, dict(env))  # noqa: S606 - the run's own command
        return result

    run_and_exit(command)
