"""A panel section whose view is computed off the kernel's main thread.

The Serialization and Bundle tabs both pick an entity, compute something slow (serializing,
bundling) in a debounced background worker while a status line says so, and show the result
or the error inline. This is that behaviour once; subclasses say what to compute and how to
show it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

import ipywidgets as w

from flyte_jupyter.widgets.common import Worker, error_html, muted, offer_entities
from flyte_jupyter.widgets.state import message_of

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from flyte_jupyter.settings import Settings
    from flyte_jupyter.widgets.state import PanelState

R = TypeVar("R")


class BackgroundView(Generic[R]):
    """Entity picker, status line and view; ``update()`` recomputes in the background.

    Subclasses define ``busy`` (the status while computing), :meth:`make_job` (runs on the
    kernel's thread: reads the namespace) and :meth:`render` (HTML of a result). The view is
    computed only while ``active`` (its tab is shown) or when asked.
    """

    busy = "working…"

    def __init__(
        self,
        state: PanelState,
        entity: w.Dropdown,
        compute: Callable[[Any], R],
        extra: Sequence[w.Widget] = (),
    ) -> None:
        self.state = state
        self.entity = entity
        entity.observe(self._entity_changed, "value")
        self.status = w.HTML()
        self.view = w.HTML()
        self.widget = w.VBox([w.HBox([entity, *extra, self.status]), self.view])
        self.worker: Worker[R] = Worker(compute, self._show)
        self.active = False
        self.result: R | None = None

    def make_job(self, settings: Settings) -> Any:
        """What ``compute`` gets, built from the kernel's state."""
        raise NotImplementedError

    def render(self, result: R) -> str:
        """HTML of a computed result."""
        raise NotImplementedError

    def offer(
        self, entities: list[tuple[str, str]], leading: tuple[tuple[str, str], ...] = ()
    ) -> None:
        """Offer these ``(name, kind)`` entities; keep the choice if it still exists."""
        if offer_entities(self.entity, self.state, entities, leading) and self.active:
            self.update()

    def _entity_changed(self, _change: dict[str, Any]) -> None:
        if self.active and not self.state.is_syncing:
            self.update()

    def update(self) -> None:
        """Recompute the view (debounced, in the background)."""
        settings = self.state.settings
        if settings is None:
            self.status.value = ""
            self.view.value = error_html(self.state.error)
            return
        try:
            job = self.make_job(settings)
        except Exception as exc:  # noqa: BLE001 - any kernel-side failure is shown inline
            self.status.value = ""
            self.view.value = error_html(message_of(exc))
            return
        self.status.value = muted(self.busy)
        self.worker.schedule(job)

    def _show(self, result: R | None, error: BaseException | None) -> None:
        self.status.value = ""
        self.result = result
        if error is not None or result is None:
            self.view.value = error_html(message_of(error or RuntimeError("no result")))
            return
        self.view.value = self.render(result)

    def wait(self, timeout: float = 120.0) -> bool:
        """Block until the latest update is shown (for tests and scripts)."""
        return self.worker.wait(timeout)
