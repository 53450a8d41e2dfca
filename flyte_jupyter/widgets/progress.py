"""Progress bars for bundling and uploading: adapters of :class:`flyte_jupyter.progress.Progress`.

The core names each phase it reports: ``bundle`` while the archive is written, ``upload``
while it is sent to the store (``download`` while one is fetched). :class:`TransferProgress`
shows the phases in one bar, labelled with the phase the core named: an upload of an archive
built earlier shows "uploading", never "bundling".
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
from flyte_jupyter.progress import Progress

if TYPE_CHECKING:
    from collections.abc import Iterator

    from flyte_jupyter.progress import Phase

LABELS: dict[Phase, str] = {"bundle": "bundling", "upload": "uploading", "download": "downloading"}
MIN_BYTES = 20 * MIB
# Off by default: a time trigger makes a notebook's outputs depend on how busy the machine
# is (nbval would see a bar on a loaded machine only). Size is a property of the bundle.
MIN_SECONDS = math.inf
_THROTTLE = 0.1


class TransferProgress(Progress):
    """A bar and a label: ``bundling 12.0 MiB of 48.0 MiB``, then ``uploading …``.

    Pass the object as ``progress`` to ``launch``/``publish_bundle``/``prepare_bundle``; its
    :meth:`update` may be called from any thread.

    Parameters
    ----------
    description
        Text before the bar.
    """

    def __init__(self, description: str = "Progress") -> None:
        import ipywidgets as w

        super().__init__()
        self.description = description
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
        self.current: Phase | None = None
        self._updated = 0.0
        self._started = time.monotonic()
        self.calls = 0

    def start(self) -> None:
        """Reset and show the bar."""
        with self._lock:
            self.current, self.calls = None, 0
            self._started = time.monotonic()
        self.bar.value = 0.0
        self.bar.bar_style = ""
        self.bar.description = self.description
        self.label.value = "preparing…"
        self.widget.layout.display = "flex"

    def update(self, phase: Phase, done: int, total: int) -> None:
        """Show ``done`` of ``total`` bytes of ``phase``, at most every 0.1 s within a phase."""
        now = time.monotonic()
        with self._lock:
            self.calls += 1
            began = phase != self.current
            self.current = phase
            if not began and done < total and now - self._updated < _THROTTLE:
                return
            self._updated = now
        self.bar.value = done / total if total else 1.0
        self.label.value = f"{LABELS[phase]} {human_size(done)} of {human_size(total)}"

    def finish(self, text: str, *, ok: bool = True, description: str | None = None) -> None:
        """Show the end state (green when ``ok``, red otherwise).

        ``description`` replaces the text before the bar (``Launched`` after ``Launching``)
        until the next :meth:`start`.
        """
        self.bar.value = 1.0 if ok else self.bar.value
        self.bar.bar_style = "success" if ok else "danger"
        if description is not None:
            self.bar.description = description
        self.label.value = text

    def hide(self) -> None:
        """Take the bar out of view."""
        self.widget.layout.display = "none"

    @property
    def elapsed(self) -> float:
        """Seconds since :meth:`start`."""
        return time.monotonic() - self._started


# what a bar says once its work is done (the magics name bars by the ongoing work)
_DONE = {"Launching": "Launched", "Bundling": "Bundled", "Uploading": "Uploaded"}


def _has_frontend() -> bool:
    from IPython.core.getipython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class LazyProgress(Progress):
    """A :class:`~flyte_jupyter.progress.Progress` that shows a bar only when worth it."""

    def __init__(
        self,
        description: str,
        *,
        min_bytes: int = MIN_BYTES,
        min_seconds: float = MIN_SECONDS,
        display: bool | None = None,
    ) -> None:
        super().__init__()
        self.description = description
        self.min_bytes = min_bytes
        self.min_seconds = min_seconds
        self.display = _has_frontend() if display is None else display
        self.started = time.monotonic()
        self.bar: TransferProgress | None = None
        self.total = 0

    def update(self, phase: Phase, done: int, total: int) -> None:
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
        self.bar.update(phase, done, total)

    def close(self, *, ok: bool) -> None:
        """Mark the bar done (or failed) if it was shown."""
        if self.bar is None:
            return
        seconds = time.monotonic() - self.started
        if ok:  # "Launched", not "Launching", once it is over
            done = _DONE.get(self.description, self.description)
            self.bar.finish(f"{human_size(self.total)} in {seconds:.1f} s", description=done)
        else:
            self.bar.finish(f"stopped after {seconds:.1f} s", ok=False)


@contextlib.contextmanager
def progress_bar(description: str = "Bundle", **kwargs: Any) -> Iterator[LazyProgress]:
    """Yield a ``progress`` for the core that shows a bar for large or slow bundles and uploads.

    Parameters
    ----------
    description
        Text before the bar.
    **kwargs
        ``min_bytes``, ``min_seconds``, ``display`` of :class:`LazyProgress`.

    Examples
    --------
    >>> with progress_bar("Upload", display=False) as progress:
    ...     progress.update("upload", 10, 100)
    """
    progress = LazyProgress(description, **kwargs)
    try:
        yield progress
    except BaseException:
        progress.close(ok=False)
        raise
    progress.close(ok=True)
