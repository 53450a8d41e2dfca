"""flyte_jupyter: run Flyte tasks and workflows from notebooks as content-addressed bundles.

This file is imported by every kernel that runs ``%load_ext flyte_jupyter`` and by the Jupyter
server, so it imports nothing heavy: the entry points below load their modules on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyte_jupyter._version import __version__

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from flyte_jupyter.launch.history import RunList
    from flyte_jupyter.launch.run import Run

__all__ = [
    "__version__",
    "current_domain",
    "get_run",
    "load_ipython_extension",
    "runs",
    "unload_ipython_extension",
]


def current_domain() -> str:
    """The Flyte domain the calling code runs in: the run's inside a run, else the notebook's.

    In an image without flyte_jupyter, read ``flytekit.current_context().execution_id.domain``.
    """
    from flyte_jupyter.settings import current_domain as resolve

    return resolve()


def runs(
    notebook: str | None = None,
    entity: str | None = None,
    status: str | None = None,
    limit: int = 20,
) -> RunList:
    """Runs from the run store, newest first, as the ``Run`` objects ``%flyte_run`` returns.

    They survive kernel restarts: after one, this finds the runs the notebook launched.
    Shown in a notebook, the list is a table; ``%flyte_runs`` shows the same.

    Parameters
    ----------
    notebook
        Only runs of this notebook: its path, file name (``analysis.ipynb``) or name.
    entity
        Only runs of this task/workflow: its notebook name (``square``) or Flyte name.
    status
        Only runs with this status: QUEUED, RUNNING, SUCCEEDED, FAILED or ABORTED.
    limit
        At most this many runs.

    Returns
    -------
    RunList
        A list of ``Run`` (``id``, ``status``, ``error``, ``logs()``, ``outputs``, ...).
    """
    from flyte_jupyter.magics import kernel_settings, live_runs

    return live_runs(
        kernel_settings(), notebook=notebook, entity=entity, status=status, limit=limit
    )


def get_run(run_id: str) -> Run:
    """The run ``run_id`` from the run store, as the ``Run`` object ``%flyte_run`` returned.

    Raises
    ------
    flyte_jupyter.errors.LaunchError
        The run store has no such run (the message names the closest id it has).
    """
    from flyte_jupyter.display import LiveRun
    from flyte_jupyter.launch.history import find_run
    from flyte_jupyter.magics import kernel_settings

    return LiveRun.of(find_run(kernel_settings(), run_id))


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
