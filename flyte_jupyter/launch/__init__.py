"""Launch runs and follow them: the local backend (embedded default) and a Flyte cluster.

Contract: :func:`launch` checks inputs against the entity's interface before anything is
built or uploaded, then bundles, publishes, serializes and submits, returning a :class:`Run`.
Every run is kept in the run store (:class:`RunStore`, SQLite under the home folder), which
kernels, run supervisors and the Jupyter server share. No IPython, ipywidgets or tornado here
(the Run's live display imports IPython only when a frontend asks to display it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyte_jupyter._lazy import lazy_exports
from flyte_jupyter.launch.model import TERMINAL, LaunchSpec, RunRecord, Status
from flyte_jupyter.launch.runstore import RunStore

if TYPE_CHECKING:
    from flyte_jupyter.launch.api import (
        LAUNCHERS,
        DryRun,
        LaunchRequest,
        launch,
        launcher_for,
        new_run_id,
    )
    from flyte_jupyter.launch.run import Run

# The launch pipeline (bundling, serialization) is imported on first use, so a run's
# supervisor process, which only needs the run store, starts fast.
_API = ("LAUNCHERS", "DryRun", "LaunchRequest", "launch", "launcher_for", "new_run_id")
_LAZY = {**dict.fromkeys(_API, "flyte_jupyter.launch.api"), "Run": "flyte_jupyter.launch.run"}

__all__ = [
    "LAUNCHERS",
    "TERMINAL",
    "DryRun",
    "LaunchRequest",
    "LaunchSpec",
    "Run",
    "RunRecord",
    "RunStore",
    "Status",
    "launch",
    "launcher_for",
    "new_run_id",
]


__getattr__ = lazy_exports(globals(), _LAZY)
