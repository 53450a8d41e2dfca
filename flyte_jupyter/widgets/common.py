"""Small pieces every section uses: inline messages, field rows, and a background worker."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import ipywidgets as w

from flyte_jupyter._html import escape
from flyte_jupyter.bundle.display import human_size

__all__ = [
    "Field",
    "Worker",
    "entity_picker",
    "error_html",
    "human_size",
    "muted",
    "offer_entities",
    "source_text",
]

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)

T = TypeVar("T")

LABEL_WIDTH = "110px"
STYLE = {"description_width": LABEL_WIDTH}
ERROR_COLOR = "#cf222e"
MUTED_COLOR = "#6e7781"


def error_html(message: str | None) -> str:
    """An inline error (empty for None): red, escaped, line breaks kept."""
    if not message:
        return ""
    return (
        f"<div class='flyte-jupyter-error' style='color:{ERROR_COLOR};white-space:pre-wrap;"
        f"line-height:1.35;margin:2px 0 4px {LABEL_WIDTH}'>⚠ {escape(message)}</div>"
    )


def muted(text: str) -> str:
    """Escaped small grey text, e.g. where a value comes from."""
    return f"<span style='color:{MUTED_COLOR};font-size:0.9em'>{escape(text)}</span>"


def source_text(source: str | None) -> str:
    """``from <source>`` as muted HTML (nothing when unknown)."""
    return muted(f"from {source}") if source else ""


class Field:
    """One editable control with the source of its value and an inline error below it."""

    def __init__(self, control: w.ValueWidget) -> None:
        self.control = control
        self.source = w.HTML(layout=w.Layout(margin="0 0 0 8px"))
        self.error = w.HTML()
        row = w.HBox([control, self.source], layout=w.Layout(align_items="center"))
        self.box = w.VBox([row, self.error])

    def show_error(self, message: str | None) -> None:
        """Show ``message`` next to the control (None clears it)."""
        self.error.value = error_html(message)

    def show_source(self, source: str | None) -> None:
        """Show where the value comes from."""
        self.source.value = source_text(source)


class Worker(Generic[T]):
    """Run ``compute`` off the kernel's main thread; only the newest request is shown.

    ``schedule(arg)`` waits ``delay`` seconds for more requests (debounce), then calls
    ``compute(arg)`` in a daemon thread and hands the result (or the exception) to
    ``show(result, error)``, unless a newer request came in meanwhile.

    Parameters
    ----------
    compute
        The slow part (bundling, serializing); it must not touch the kernel's namespace.
    show
        Called with ``(result, None)`` or ``(None, exception)`` from the worker thread.
    delay
        Debounce time in seconds.
    """

    def __init__(
        self,
        compute: Callable[[Any], T],
        show: Callable[[T | None, BaseException | None], None],
        *,
        delay: float = 0.3,
    ) -> None:
        self._compute = compute
        self._show = show
        self.delay = delay
        self._lock = threading.Lock()
        self._generation = 0
        self._timer: threading.Timer | None = None
        self._idle = threading.Event()
        self._idle.set()

    def schedule(self, arg: Any) -> None:
        """Compute for ``arg`` soon, superseding any pending or running request."""
        with self._lock:
            self._generation += 1
            if self._timer is not None:
                self._timer.cancel()
            self._idle.clear()
            self._timer = threading.Timer(self.delay, self._run, (self._generation, arg))
            self._timer.daemon = True
            self._timer.start()

    def _run(self, generation: int, arg: Any) -> None:
        result: T | None = None
        error: BaseException | None = None
        try:
            result = self._compute(arg)
        # a background job must report every failure in the widget, not die unseen in a thread
        except Exception as exc:
            logger.debug("Background job failed", exc_info=True)
            error = exc
        with self._lock:
            if generation != self._generation:
                return
        try:
            self._show(result, error)
        finally:
            with self._lock:
                if generation == self._generation:
                    self._idle.set()

    def wait(self, timeout: float = 120.0) -> bool:
        """Block until the newest request has been shown; False on timeout."""
        return self._idle.wait(timeout)

    def cancel(self) -> None:
        """Drop pending work (a running computation finishes but is not shown)."""
        with self._lock:
            self._generation += 1
            if self._timer is not None:
                self._timer.cancel()
            self._idle.set()


def entity_picker(description: str, tooltip: str) -> w.Dropdown:
    """The dropdown each section uses to choose a task or workflow."""
    return w.Dropdown(
        description=description,
        options=[],
        tooltip=tooltip,
        style=STYLE,
        layout=w.Layout(width="420px"),
    )


def offer_entities(
    picker: w.Dropdown,
    state: Any,
    entities: list[tuple[str, str]],
    leading: tuple[tuple[str, str], ...] = (),
) -> bool:
    """Offer ``leading`` options then ``(name, kind)`` entities, keeping the current choice.

    A choice that no longer exists falls back to the first option. Changes are made while
    ``state`` is syncing, so observers ignore them. Returns True when the options changed.
    """
    options = [*leading, *((f"{name} ({kind})", name) for name, kind in entities)]
    if list(picker.options) == options:
        return False
    current = picker.value
    with state.syncing():
        picker.options = options
        values = [value for _, value in options]
        if current in values:
            picker.value = current
        elif values:
            picker.value = values[0]
    return True
