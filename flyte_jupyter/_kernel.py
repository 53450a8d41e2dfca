"""What the session reads from the kernel: loaded modules, the notebook's name, entities.

No IPython import: the shell's namespace and registry are handed in.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from flyte_jupyter.capture import defined_names
from flyte_jupyter.errors import TargetError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from IPython.core.interactiveshell import InteractiveShell

    from flyte_jupyter.capture import CellRecord


def loaded_modules() -> dict[str, str]:
    """``{module name: file}`` of ``sys.modules`` (without the kernel's launcher script)."""
    return {
        name: file
        for name, module in list(sys.modules.items())
        if name != "__main__"
        and (file := getattr(module, "__file__", None))
        and isinstance(file, str)
    }


def notebook_path(user_ns: Mapping[str, Any]) -> str | None:
    """The notebook's path as the server named the session (``__session__``), if known."""
    session = user_ns.get("__session__") or os.environ.get("JPY_SESSION_NAME")
    return str(session) if session else None


def entities(
    user_ns: Mapping[str, Any], cells: tuple[CellRecord, ...], names: list[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Validate target names (default: every entity the cells define).

    Returns the names and those of them whose code lives in notebook cells.
    """
    from flyte_jupyter.sdk import entity_kind, sdk_for, undefined

    if not names:
        names = [n for n in defined_names(cells) if entity_kind(user_ns.get(n))]
        if not names:
            msg = (
                "No task or workflow is defined in this notebook yet. Define one with "
                "@task or @workflow in a cell, run it, then try again."
            )
            raise TargetError(msg)
    for name in names:
        if name not in user_ns:
            raise TargetError(undefined(name))
        sdk_for(user_ns[name], name)  # TargetError: not an entity of any SDK (what to do)
    in_notebook = tuple(n for n in names if sdk_for(user_ns[n]).defined_in_notebook(user_ns[n]))
    return tuple(names), in_notebook


def entity_modules(
    user_ns: Mapping[str, Any], targets: tuple[str, ...], bundle: Any
) -> list[tuple[str, str]]:
    """``(name, module)`` to import each target from.

    That is the bundle's generated module, or, for copy style ``none``, the installed module
    the entity was defined in.
    """
    if bundle is not None:
        return [(name, bundle.module) for name in targets]
    from flyte_jupyter.sdk import sdk_for

    out = []
    for name in targets:
        obj = user_ns[name]
        function, module = sdk_for(obj, name).origin(obj)
        out.append((function or name, str(module)))
    return out


def magics_registry(ipython: InteractiveShell) -> dict[str, Any]:
    """The shell's registered Magics instances by class name."""
    manager: Any = ipython.magics_manager  # optional in IPython 8's annotations, not in 9
    registry: dict[str, Any] = manager.registry
    return registry
