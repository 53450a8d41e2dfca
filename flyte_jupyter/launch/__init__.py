"""Launchers and runs: the local backend (embedded default) and a Flyte cluster.

Contract: a launcher (:func:`launcher_for`) submits a :class:`LaunchSpec` (an entity already
bundled, published and serialized) and follows it; every run is kept in the run store
(:class:`RunStore`, SQLite under the home folder), which kernels, run supervisors and the
Jupyter server share, and is seen through a :class:`Run` (after a restart too:
:mod:`flyte_jupyter.launch.history` reads runs back from the run store as Runs). Building
what a launcher submits is the application layer's work (:mod:`flyte_jupyter.submit`):
nothing here bundles. No IPython, ipywidgets or tornado here: a Run's live display belongs to
the adapters.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyte_jupyter._lazy import lazy_exports
from flyte_jupyter.launch.model import TERMINAL, LaunchSpec, RunRecord, Status
from flyte_jupyter.launch.runstore import RunStore

if TYPE_CHECKING:
    from flyte_jupyter.launch.backends import LAUNCHERS, launcher_for, new_run_id
    from flyte_jupyter.launch.run import Run

# Imported on first use, so a run's supervisor process, which only needs the run store,
# starts fast.
_BACKENDS = ("LAUNCHERS", "launcher_for", "new_run_id")
_LAZY = {
    **dict.fromkeys(_BACKENDS, "flyte_jupyter.launch.backends"),
    "Run": "flyte_jupyter.launch.run",
}

__all__ = [
    "LAUNCHERS",
    "TERMINAL",
    "LaunchSpec",
    "Run",
    "RunRecord",
    "RunStore",
    "Status",
    "launcher_for",
    "new_run_id",
]


__getattr__ = lazy_exports(globals(), _LAZY)
