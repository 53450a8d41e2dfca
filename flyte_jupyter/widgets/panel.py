"""``FlytePanel``: the sections composed into one widget, kept in step with the kernel.

The panel edits the session's ``panel`` settings layer (see :mod:`flyte_jupyter.widgets.state`).
It reads the other sources again when it is displayed, when Refresh is pressed, and after any
cell whose run changed ``%config FlyteJupyter``, a ``FLYTE*`` variable or the panel layer
(``post_run_cell``: a cheap fingerprint, no flytekit work). After each cell it also picks up
newly defined tasks and workflows and new runs.

A panel cannot update once its kernel is gone, and the values it last showed would then be
stale (a restarted kernel has only what its sources give). So when the kernel ends (atexit:
restart or shutdown), every open panel of it is marked disconnected: its values are hidden
and it says to run ``%flyte_panel`` again; a new panel reads the new kernel's settings.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from flyte_jupyter._html import escape
from flyte_jupyter.widgets.code import CodeSection
from flyte_jupyter.widgets.common import error_html, muted
from flyte_jupyter.widgets.images import ImagesSection
from flyte_jupyter.widgets.preview import PreviewSection
from flyte_jupyter.widgets.run import RunSection
from flyte_jupyter.widgets.runs import RunsSection
from flyte_jupyter.widgets.serialization import SerializationSection
from flyte_jupyter.widgets.state import PanelState
from flyte_jupyter.widgets.target import TargetSection

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from flyte_jupyter.deploy import Deployment
    from flyte_jupyter.launch import Run
    from flyte_jupyter.session import KernelSession

logger = logging.getLogger(__name__)

TITLES = ("Target", "Images", "Code", "Serialization", "Bundle", "Run", "Runs")
SERIALIZATION, BUNDLE, RUNS = TITLES.index("Serialization"), TITLES.index("Bundle"), 6
DISCONNECTED = (
    "⚠ Disconnected: the kernel of this panel stopped or restarted, so the values it showed "
    "may no longer be the kernel's. Run %flyte_panel again to see and edit its settings."
)
# Scoped to the panel: compact HTML rows (widgets use the 28 px control height) and visible links
CSS = (
    "<style>"
    ".flyte-jupyter-panel .widget-tab-contents .widget-html-content{line-height:1.45}"
    ".flyte-jupyter-panel a{color:var(--jp-content-link-color,#1f6feb);text-decoration:underline}"
    ".flyte-jupyter-panel td,.flyte-jupyter-panel th{padding:1px 12px 1px 0;vertical-align:top}"
    ".flyte-jupyter-panel td code{word-break:break-all}"
    ".flyte-jupyter-panel td:first-child code{word-break:normal;white-space:nowrap}"
    ".flyte-jupyter-panel .widget-html{min-width:0}"
    # A panel whose kernel is gone (restarted, shut down, crashed) gets the class
    # jupyter-widgets-disconnected from the widget manager; it cannot hear from the kernel any
    # more, so hide the values it last showed (they may not be the kernel's) and say why.
    ".flyte-jupyter-panel.jupyter-widgets-disconnected>*{display:none!important}"
    '.flyte-jupyter-panel.jupyter-widgets-disconnected::before{content:"'
    + DISCONNECTED
    + '";display:block;padding:6px 0;color:#9a6700;font-weight:bold;'
    "font-family:var(--jp-ui-font-family,sans-serif)}"
    "</style>"
)


class FlytePanel(w.VBox):
    """Target, images, code, serialization, bundle preview, run and runs of one kernel.

    Parameters
    ----------
    session
        The kernel's session (``%flyte_panel`` passes the one its magics use).

    Attributes
    ----------
    target, images, code, serialization, preview, runner, runs
        The sections, each with its stock ipywidgets (for code and tests).
    tabs
        The ``Tab`` holding them, in the order of :data:`TITLES`.
    """

    def __init__(self, session: KernelSession, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("flyte-jupyter-panel")
        self.session = session
        self.state = PanelState(session)
        self.target = TargetSection(self.state)
        self.images = ImagesSection(self.state)
        self.code = CodeSection(self.state)
        self.serialization = SerializationSection(self.state)
        self.preview = PreviewSection(self.state)
        self.runs = RunsSection(self.state)
        self.runner = RunSection(self.state, self.runs)
        sections = (
            self.target,
            self.images,
            self.code,
            self.serialization,
            self.preview,
            self.runner,
            self.runs,
        )
        self.tabs = w.Tab(
            children=[s.widget for s in sections],
            titles=TITLES,
            layout=w.Layout(min_height="260px"),
        )
        self.summary = w.HTML(layout=w.Layout(flex="1 1 auto"))
        self.refresh_button = w.Button(
            description="Refresh",
            icon="refresh",
            tooltip="Read %config, the environment and pyproject.toml again",
            layout=w.Layout(width="100px"),
        )
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.reset_button = w.Button(
            description="Reset",
            icon="undo",
            tooltip="Forget the values set in the panel",
            layout=w.Layout(width="100px"),
        )
        self.reset_button.on_click(lambda _b: self.reset())
        self.error = w.HTML()
        # the panel's styles, there even while the settings cannot be resolved (no summary)
        self.style = w.HTML(CSS, layout=w.Layout(display="none"))
        self.children = [
            self.style,
            w.HBox([self.summary, self.refresh_button, self.reset_button]),
            self.error,
            self.tabs,
        ]
        self._cells_seen: object = None
        self.state.on_change(self._settings_changed)
        self.state.on_rejected(self._show_refused)
        self.tabs.observe(self._tab_changed, "selected_index")
        self._stop_following = session.on_cell(self._after_cell)
        self.disconnected: str | None = None
        _OPEN.add(self)
        self.refresh()

    # -- public API ------------------------------------------------------------------------

    def refresh(self) -> None:
        """Resolve the settings again and show them; pick up new entities and runs."""
        self.state.refresh()
        self._sync_entities()
        self.runs.refresh()

    def reset(self) -> None:
        """Forget the panel's values, refused edits and half-typed rows (the Reset button)."""
        self.images.drop_pending()
        self.code.drop_pending()
        self.state.reset()

    def on_run(self, callback: Callable[[Run], None]) -> None:
        """Call ``callback(run)`` after each run launched from the panel."""
        self.runner.on_run(callback)

    def run(self, name: str | None = None, inputs: Mapping[str, Any] | None = None) -> Run:
        """Launch ``name`` (default: the selected one) with ``inputs``, as the Run button does.

        Returns once the run is submitted; ``run.wait()`` blocks until it ends.
        """
        self.tabs.selected_index = TITLES.index("Run")
        return self.runner.run(name, inputs)

    def on_deploy(self, callback: Callable[[Deployment], None]) -> None:
        """Call ``callback(deployment)`` after each deploy from the panel."""
        self.runner.deployer.on_deploy(callback)

    def deploy(self, name: str | None = None) -> Deployment:
        """Deploy ``name`` (default: the selected one) to the Flyte cluster, as Deploy does.

        Registers it under the version without running it; returns the result.
        """
        self.tabs.selected_index = TITLES.index("Run")
        return self.runner.deployer.deploy(name)

    def select(self, title: str) -> None:
        """Show the tab called ``title`` (one of :data:`TITLES`)."""
        self.tabs.selected_index = TITLES.index(title)

    def disconnect(self, reason: str = "the kernel stopped") -> None:
        """Say the panel no longer reflects the kernel, and stop showing its (stale) values."""
        if self.disconnected is not None:
            return
        self.disconnected = reason
        _OPEN.discard(self)
        self._stop_following()
        self.runs.close()
        self.serialization.worker.cancel()
        self.preview.worker.cancel()
        at = time.strftime("%H:%M:%S")
        self.summary.value = (
            "<div class='flyte-jupyter-disconnected'><b>Flyte</b> &nbsp;"
            f"<b style='color:#9a6700'>⚠ Disconnected: {escape(reason)} at {at}.</b> "
            "This panel can no longer show or change the kernel's settings; run "
            "<code>%flyte_panel</code> again in the new kernel.</div>"
        )
        self.error.value = ""
        self.tabs.layout.display = "none"
        self.refresh_button.disabled = True
        self.reset_button.disabled = True

    def close(self) -> None:
        """Stop following the kernel and close every widget of the panel."""
        _OPEN.discard(self)
        self._stop_following()
        self.runs.close()
        self.serialization.worker.cancel()
        self.preview.worker.cancel()
        stack = list(self.children)
        while stack:
            widget = stack.pop()
            stack.extend(getattr(widget, "children", ()))
            widget.close()
        super().close()

    # -- keeping in step -------------------------------------------------------------------

    def _settings_changed(self) -> None:
        settings = self.state.settings
        self._show_refused()
        if settings is None:
            return
        self.summary.value = (
            f"<b>Flyte</b> &nbsp; project <code>{escape(settings.project)}</code> · domain "
            f"<code>{escape(settings.domain)}</code> · backend <code>{escape(settings.backend)}"
            f"</code> &nbsp;{muted('edits here are what the next %%flyte_run uses')}"
        )
        self.target.sync(settings)
        self.images.sync(settings)
        self.code.sync(settings)
        self._update_visible()

    def _show_refused(self) -> None:
        """Say above the tabs that an edit is not in effect (its field says why)."""
        refused = self.state.rejected
        if not refused:
            self.error.value = error_html(self.state.error)
            return
        keys = ", ".join(sorted(refused))
        self.error.value = error_html(
            self.state.error
            or f"Not in effect: {keys} (the settings refused the edit; see its field). "
            "Run refuses until it is fixed or Reset."
        )

    def _sync_entities(self) -> None:
        entities = self.state.entities()
        self.serialization.set_entities(entities)
        self.preview.set_entities(entities)
        self.runner.set_entities(entities)
        self.images.show_environments()
        self._cells_seen = self.session.cells

    def _tab_changed(self, _change: dict[str, Any]) -> None:
        self._update_visible()
        if self.tabs.selected_index == RUNS:
            self.runs.refresh()

    def _update_visible(self) -> None:
        index = self.tabs.selected_index
        self.serialization.active = index == SERIALIZATION
        self.preview.active = index == BUNDLE
        if self.serialization.active:
            self.serialization.update()
        if self.preview.active:
            self.preview.update()

    def _after_cell(self) -> None:
        if self.session.closed:
            self.close()  # the extension was unloaded
            return
        if self.state.changed_outside():
            self.state.refresh()
        if self.session.cells is not self._cells_seen:
            self._sync_entities()
            self._update_visible()  # the code may have changed
        self.runs.refresh()

    # -- display ---------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        if self.disconnected is None:
            self.refresh()  # shown again: %config may have changed meanwhile
        return super()._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        settings = self.state.settings
        if settings is None:
            return "FlytePanel(settings invalid)"
        return (
            f"FlytePanel(project={settings.project!r}, domain={settings.domain!r}, "
            f"backend={settings.backend!r})"
        )


class _OpenPanels:
    """The panels of this kernel, so that they can say so when the kernel ends."""

    def __init__(self) -> None:
        self._panels: weakref.WeakSet[FlytePanel] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._registered = False

    def add(self, panel: FlytePanel) -> None:
        with self._lock:
            self._panels.add(panel)
            if not self._registered:
                atexit.register(self.kernel_stopped)  # runs before ipykernel's own (LIFO)
                self._registered = True

    def discard(self, panel: FlytePanel) -> None:
        with self._lock:
            self._panels.discard(panel)

    def panels(self) -> list[FlytePanel]:
        """The open panels."""
        with self._lock:
            return list(self._panels)

    def kernel_stopped(self) -> None:
        """Mark every open panel disconnected (at exit; best effort)."""
        for panel in self.panels():
            _disconnect_quietly(panel)


def _disconnect_quietly(panel: FlytePanel) -> None:
    try:
        panel.disconnect("the kernel stopped")
    except Exception:  # the kernel is going away: never fail its exit
        logger.debug("Marking a panel disconnected failed", exc_info=True)


_OPEN = _OpenPanels()
