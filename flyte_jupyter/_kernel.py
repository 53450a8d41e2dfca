"""What the session reads from the kernel: loaded modules, the notebook's name, entities.

No IPython import: the shell's namespace and registry are handed in.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte_jupyter.capture import defined_names
from flyte_jupyter.errors import TargetError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

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


# The comm over which the JupyterLab extension tells the kernel its notebook's current path
# (labextension/src/notebookpath.ts).
NOTEBOOK_COMM = "flyte_jupyter.notebook"
FOLLOWED = "JupyterLab: the notebook's current path"
UNNAMED = "no client named the notebook (nbclient, nbconvert, papermill): set module_name"


def notebook_path(user_ns: Mapping[str, Any]) -> str | None:
    """The notebook's path as its client tells it (see :func:`notebook_origin`), if known."""
    return notebook_origin(user_ns)[0]


def notebook_origin(user_ns: Mapping[str, Any]) -> tuple[str | None, str]:
    """The notebook's path, if some client tells it, and which client that is.

    What each client exposes to the kernel (checked against their sources):

    * VS Code sets ``__vsc_ipynb_file__`` in the namespace, and updates it;
    * a Jupyter server sets ``JPY_SESSION_NAME`` (ipykernel copies it to ``__session__``):
      the path when the kernel started, not updated on rename (the JupyterLab extension
      tells the current one; see :func:`follow_notebook`);
    * nbclient, nbconvert and papermill tell the kernel nothing (``resources["metadata"]
      ["path"]`` is only its working folder; papermill's input path goes into the output
      notebook's metadata); but ``jupyter nbconvert --execute NB.ipynb`` and ``papermill
      IN.ipynb OUT.ipynb`` start the kernel themselves, so the command line of the kernel's
      parent process names the notebook (:func:`_named_by_parent`).
    """
    vscode = user_ns.get("__vsc_ipynb_file__")
    if vscode:
        return str(vscode), "VS Code (__vsc_ipynb_file__)"
    session = user_ns.get("__session__") or os.environ.get("JPY_SESSION_NAME")
    if session:
        return str(session), "the Jupyter server's session (the path at kernel start)"
    named = _named_by_parent()
    if named is not None:
        return named
    return None, UNNAMED


_TOOLS = ("nbconvert", "papermill")


def _named_by_parent() -> tuple[str, str] | None:
    """The notebook a parent ``jupyter nbconvert``/``papermill`` was given, if just one.

    nbconvert executes every notebook it is given in turn, each with a new kernel: with
    several on its command line the kernel cannot tell which one it runs, and says nothing.
    papermill's first notebook is its input.
    """
    parent = os.getppid()
    try:
        argv = Path(f"/proc/{parent}/cmdline").read_bytes().decode(errors="replace")
        cwd = os.readlink(f"/proc/{parent}/cwd")
    except OSError:  # not Linux, or the parent is gone
        return None
    args = [a for a in argv.split("\0") if a]
    tool = next((t for t in _TOOLS if any(Path(a).name.endswith(t) for a in args[:3])), None)
    if tool is None:
        return None
    notebooks = [a for a in args[1:] if a.endswith(".ipynb") and not a.startswith("-")]
    if tool == "papermill":
        notebooks = notebooks[:1]
    if len(notebooks) != 1:
        return None
    return os.path.join(cwd, notebooks[0]), f"the command line of {tool} (its only notebook)"


def follow_notebook(on_path: Callable[[str], None]) -> Callable[[], None]:
    """Hear the notebook's current path from the JupyterLab extension, over a comm.

    Opens a comm to the frontend (an extension that knows the target answers with
    ``{"path": ...}`` and sends it again on each rename) and registers the target for a
    frontend that reconnects (a reloaded page). ``on_path`` gets the path as the server's
    contents API names it (relative to its root). Outside a kernel this does nothing.

    Returns a function that stops listening.
    """
    import comm

    def listen(channel: Any) -> None:
        def received(msg: dict[str, Any]) -> None:
            path = (msg.get("content") or {}).get("data", {}).get("path")
            if isinstance(path, str) and path.strip():
                on_path(path)

        channel.on_msg(received)

    def opened(channel: Any, msg: dict[str, Any]) -> None:
        listen(channel)
        channel.handle_msg(msg)  # a path sent with the open itself

    manager = comm.get_comm_manager()
    manager.register_target(NOTEBOOK_COMM, opened)
    channel = comm.create_comm(target_name=NOTEBOOK_COMM, data={})
    listen(channel)

    def stop() -> None:
        # only our own registration: a later session of this kernel may have replaced it,
        # and comm's unregister_target drops whatever is registered under the name
        if getattr(manager, "targets", {}).get(NOTEBOOK_COMM) is opened:
            manager.unregister_target(NOTEBOOK_COMM, opened)
        channel.close()

    return stop


def server_root(path: str, started_as: str | None) -> str | None:
    """The folder the frontend's notebook paths are relative to (the server's root), if known.

    That is the parent server's ``root_dir`` (its ``jpserver-<pid>.json``); failing that,
    what the absolute path at kernel start (``started_as``) says of it while the notebook
    still has the name it started with, ``path``.
    """
    from flyte_jupyter.launch.urls import parent_server_root

    root = parent_server_root()
    if root is None and started_as and started_as.endswith(os.sep + path):
        root = started_as[: -len(path) - 1]
    return root


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
