"""The ``%flyte_panel`` widget: ipywidgets over the same core calls the magics make.

Contract: :class:`FlytePanel` edits the session's ``panel`` settings layer, so what is set in
the panel is what the next ``%%flyte_run`` uses, and ``%config`` changes show in the panel.
Previews (serialization, bundle) build and serialize but never upload; the Run button calls
``flyte_jupyter.launch.launch`` with the request ``%%flyte_run`` would build. Slow work runs in
daemon threads; every error is shown next to the control it concerns.

Importing this package imports nothing heavy: ``FlytePanel`` (and ipywidgets) load on first
use, so the magics can use :mod:`flyte_jupyter.widgets.progress` cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flyte_jupyter.widgets.panel import FlytePanel

__all__ = ["FlytePanel"]


def __getattr__(name: str) -> Any:
    if name == "FlytePanel":
        from flyte_jupyter.widgets.panel import FlytePanel

        return FlytePanel
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
