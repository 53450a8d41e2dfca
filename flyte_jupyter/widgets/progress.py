"""Progress bars for bundling and uploading, fed by the core's ``progress(done, total)`` calls.

The core reports bytes twice per launch: while the archive is written (bundling) and while it
is sent to the store (uploading). :class:`TransferProgress` shows both phases in one bar.
:func:`progress_bar` is the magics' helper: it imports ipywidgets and displays a bar only once
the transfer turns out to be large (``min_bytes``; or slow, if ``min_seconds`` is given), and
only in a kernel with a frontend, so small bundles and plain IPython show nothing.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from typing import TYPE_CHECKING, Any

from flyte_jupyter.bundle.display import human_size
from flyte_jupyter.bundle.model import MIB

if TYPE_CHECKING:
    from collections.abc import Iterator

PHASES = ("bundling", "uploading")
MIN_BYTES = 20 * MIB
# Off by default: a time trigger makes a notebook's outputs depend on how busy the machine
# is (nbval would see a bar on a loaded machine only). Size is a property of the bundle.
MIN_SECONDS = math.inf
_THROTTLE = 0.1


class TransferProgress:
    """A bar and a label: ``bundling 12.0 MiB of 48.0 MiB``, then ``uploading …``.

    Call the object as the ``progress`` callback of ``launch``/``publish_bundle``/
    ``prepare_bundle``; it may be called from any thread.

    Parameters
    ----------
    description
        Text before the bar.
    """

    def __init__(self, description: str = "Progress") -> None:
        import ipywidgets as w

        self.bar = w.FloatProgress(
            value=0.0,
            min=0.0,
            max=1.0,
            description=description,
            style={"description_width": "110px"},
            layout=w.Layout(width="420px"),
        )
        self.label = w.HTML()
        self.widget = w.HBox(
            [self.bar, self.label], layout=w.Layout(display="none", align_items="center")
        )
        self._lock = threading.Lock()
        self._phase = 0
        self._last = (0, 0)
        self._updated = 0.0
        self._started = time.monotonic()
        self.calls = 0

    def start(self) -> None:
        """Reset and show the bar."""
        with self._lock:
            self._phase, self._last, self.calls = 0, (0, 0), 0
            self._started = time.monotonic()
        self.bar.value = 0.0
        self.bar.bar_style = ""
        self.label.value = "preparing…"
        self.widget.layout.display = "flex"

    @property
    def phase(self) -> str:
        """``bundling`` or ``uploading``."""
        return PHASES[min(self._phase, len(PHASES) - 1)]

    def __call__(self, done: int, total: int) -> None:
        """Record ``done`` of ``total`` bytes of the current phase."""
        now = time.monotonic()
        with self._lock:
            self.calls += 1
            last_done, last_total = self._last
            if self.calls > 1 and (done < last_done or total != last_total):
                self._phase += 1  # the counter restarted: the next phase began
            self._last = (done, total)
            if done < total and now - self._updated < _THROTTLE:
                return
            self._updated = now
        self.bar.value = done / total if total else 1.0
        self.label.value = f"{self.phase} {human_size(done)} of {human_size(total)}"

    def finish(self, text: str, *, ok: bool = True) -> None:
        """Show the end state (green when ``ok``, red otherwise)."""
        self.bar.value = 1.0 if ok else self.bar.value
        self.bar.bar_style = "success" if ok else "danger"
        self.label.value = text

    def hide(self) -> None:
        """Take the bar out of view."""
        self.widget.layout.display = "none"

    @property
    def elapsed(self) -> float:
        """Seconds since :meth:`start`."""
        return time.monotonic() - self._started


def _has_frontend() -> bool:
    from IPython.core.getipython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LazyProgress:
    """A ``progress`` callback that displays a :class:`TransferProgress` only when worth it."""

    def __init__(
        self,
        description: str,
        *,
        min_bytes: int = MIN_BYTES,
        min_seconds: float = MIN_SECONDS,
        display: bool | None = None,
    ) -> None:
        self.description = description
        self.min_bytes = min_bytes
        self.min_seconds = min_seconds
        self.display = _has_frontend() if display is None else display
        self.started = time.monotonic()
        self.bar: TransferProgress | None = None
        self.total = 0

    def __call__(self, done: int, total: int) -> None:
        """Forward to the bar, creating and displaying it once the transfer is big or slow."""
        self.total = max(self.total, total)
        if self.bar is None:
            slow = time.monotonic() - self.started >= self.min_seconds
            if not self.display or (total < self.min_bytes and not slow):
                return
            self.bar = TransferProgress(self.description)
            self.bar.start()
            from IPython.display import display

            display(self.bar.widget)
        self.bar(done, total)

    def close(self, *, ok: bool) -> None:
        """Mark the bar done (or failed) if it was shown."""
        if self.bar is None:
            return
        seconds = time.monotonic() - self.started
        if ok:
            self.bar.finish(f"done: {human_size(self.total)} in {seconds:.1f} s")
        else:
            self.bar.finish(f"stopped after {seconds:.1f} s", ok=False)


@contextlib.contextmanager
def progress_bar(description: str = "Bundle", **kwargs: Any) -> Iterator[LazyProgress]:
    """Yield a ``progress`` callback that shows a bar for large or slow bundles and uploads.

    Parameters
    ----------
    description
        Text before the bar.
    **kwargs
        ``min_bytes``, ``min_seconds``, ``display`` of :class:`LazyProgress`.

    Examples
    --------
    >>> with progress_bar("Upload", display=False) as progress:
    ...     progress(10, 100)
    """
    progress = LazyProgress(description, **kwargs)
    try:
        yield progress
    except BaseException:
        progress.close(ok=False)
        raise
    progress.close(ok=True)
