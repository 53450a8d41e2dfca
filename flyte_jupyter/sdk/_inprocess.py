"""Run a command's Python steps in this process (the warm worker's forked children).

Shared by the SDKs' :meth:`~flyte_jupyter.sdk.FlyteSdk.run_in_process`: a click console
script's command called as its script would call it, and ``python -m MODULE`` run as
``runpy`` runs it, each giving the exit code the process would have ended with.
"""

from __future__ import annotations

import runpy
import sys
import traceback
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence


def exit_code(exc: SystemExit) -> int:
    """The exit status ``sys.exit(code)`` gives a process."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)  # noqa: T201 - what the interpreter prints for sys.exit("...")
    return 1


def run_click(command: Any, name: str, args: Sequence[str]) -> int:
    """``command`` (a click command) as its console script ``name`` runs it with ``args``."""
    sys.argv = [name, *args]
    try:
        command.main(list(args), prog_name=name, standalone_mode=True)
    except SystemExit as exc:  # standalone mode ends every run with sys.exit
        return exit_code(exc)
    except Exception:  # noqa: BLE001 - what the interpreter does with an uncaught error
        traceback.print_exc()
        return 1
    return 0


def run_module(argv: Sequence[str]) -> int | None:
    """``[python, -m, MODULE, *args]`` run with ``runpy``; None for any other command."""
    if len(argv) < 3 or argv[0] != sys.executable or argv[1] != "-m":  # noqa: PLR2004
        return None
    module, args = argv[2], list(argv[3:])
    sys.argv = [module, *args]  # runpy puts the module's file first, as python -m does
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        return exit_code(exc)
    except Exception:  # noqa: BLE001 - what the interpreter does with an uncaught error
        traceback.print_exc()
        return 1
    return 0
