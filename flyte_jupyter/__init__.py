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
    "load_ipython_extension",
    "unload_ipython_extension",
]


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """Register the magics and the cell recorder (``%load_ext flyte_jupyter``)."""
    from flyte_jupyter.magics import load

    load(ipython)


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    """Unregister the cell recorder (``%unload_ext flyte_jupyter``)."""
    from flyte_jupyter.magics import unload

    unload(ipython)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return []
