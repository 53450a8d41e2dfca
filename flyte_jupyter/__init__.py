"""flyte_jupyter: run Flyte tasks and workflows from notebooks as content-addressed bundles.

This file is imported by every kernel that runs ``%load_ext flyte_jupyter`` and by the Jupyter
server, so it imports nothing heavy: the entry points below load their modules on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyte_jupyter._version import __version__

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

__all__ = [
    "__version__",
    "current_domain",
    "load_ipython_extension",
    "unload_ipython_extension",
]


def current_domain() -> str:
    """The Flyte domain the calling code runs in: the run's inside a run, else the notebook's.

    In an image without flyte_jupyter, read ``flytekit.current_context().execution_id.domain``.
    """
    from flyte_jupyter.settings import current_domain as resolve

    return resolve()


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Register the magics and the cell recorder (``%load_ext flyte_jupyter``)."""
    from flyte_jupyter.magics import load

    load(ipython)


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    """Unregister the cell recorder (``%unload_ext flyte_jupyter``)."""
    from flyte_jupyter.magics import unload

    unload(ipython)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """The server extension (runs API and run pages); imported only by the server."""
    from flyte_jupyter.server.app import FlyteJupyterApp

    return [{"module": "flyte_jupyter", "app": FlyteJupyterApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt JupyterLab extension shipped in this package (the "Flyte runs" sidebar)."""
    return [{"src": "labextension", "dest": "flyte-jupyter"}]
