"""What every forked child of the warm worker does to become its job, and to end.

Shared by the worker's job children (:mod:`flyte_jupyter.worker.server`) and the run commands
a warm supervisor forks (:mod:`flyte_jupyter.launch.forked`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def become(env: Mapping[str, str], cwd: str) -> None:
    """Take the job's environment and folder; rebuild the SDKs' state from that environment."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    from flyte_jupyter.sdk import imported_sdks

    for sdk in imported_sdks():
        sdk.after_fork()


def run_and_exit(body: Callable[[], int]) -> NoReturn:
    """Run ``body``; end this process with its exit code (1, traceback on stderr, if it raised).

    A forked child never returns into its parent's code, whatever happens in it.
    """
    code = 1
    try:
        code = body()
    except BaseException:  # noqa: BLE001 - stderr (the job's output, the run's log) says why
        with contextlib.suppress(Exception):
            traceback.print_exc()
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def failure(exc: Exception) -> dict[str, Any]:
    """A job's exception as the JSON result the kernel turns into its error."""
    return {
        "ok": False,
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": traceback.format_exc(limit=8),
    }
