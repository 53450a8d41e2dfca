"""One progress protocol for the bytes the core moves: bundling, uploading, downloading.

Each step that moves bytes names its phase: it asks ``progress.phase(name, total)`` for an
fsspec :class:`~fsspec.callbacks.Callback` and reports that step's bytes to it, and to nothing
else. The archive writer calls ``absolute_update``; the bundle store passes the callback to
``fs.put_file``/``fs.get_file`` (and updates it itself where fsspec's local file system ignores
callbacks). So nobody has to guess a phase from a counter that restarted: an upload of a
cached archive is an ``upload``, never a ``bundle``.

Adapters display it: subclass :class:`Progress` and override :meth:`Progress.update`
(:mod:`flyte_jupyter.widgets.progress` does), or pass ``update=`` a function. This module
imports no IPython or ipywidgets.

Examples
--------
>>> seen = []
>>> progress = Progress(lambda phase, done, total: seen.append((phase, done, total)))
>>> with progress.phase("upload", 10) as callback:
...     callback.relative_update(4)
...     callback.relative_update(6)
>>> seen
[('upload', 4, 10), ('upload', 10, 10)]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from fsspec.callbacks import Callback

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["PHASES", "Phase", "PhaseCallback", "Progress"]

Phase = Literal["bundle", "upload", "download"]
"""``bundle``: the archive is written; ``upload``: sent to the bundle store; ``download``: fetched
from it."""
PHASES: tuple[Phase, ...] = ("bundle", "upload", "download")


class Progress:
    """Receives ``(phase, bytes done, bytes total)`` from every step that moves bytes.

    Parameters
    ----------
    update
        Called as ``update(phase, done, total)``; None: override :meth:`update` instead.
        Called from the thread that moves the bytes (s3fs: its event loop thread).
    """

    def __init__(self, update: Callable[[Phase, int, int], None] | None = None) -> None:
        self._update = update

    def phase(self, name: Phase, total: int | None) -> PhaseCallback:
        """Begin phase ``name`` of ``total`` bytes (None: known later, via ``set_size``).

        Returns
        -------
        PhaseCallback
            The fsspec callback for this phase's bytes, to hand to fsspec as ``callback=``.
        """
        if name not in PHASES:
            msg = f"Unknown progress phase {name!r}; use one of {', '.join(PHASES)}."
            raise ValueError(msg)
        return PhaseCallback(self, name, total)

    def update(self, phase: Phase, done: int, total: int) -> None:
        """Show that ``done`` of ``total`` bytes of ``phase`` are through."""
        if self._update is not None:
            self._update(phase, done, total)


class PhaseCallback(Callback):  # type: ignore[misc]  # fsspec ships no type hints
    """The fsspec callback of one phase: forwards its changes to :meth:`Progress.update`.

    Reports nothing until the size is known, and never the same ``(done, total)`` twice in a
    row, so a caller may confirm the end with ``absolute_update(size)`` after fsspec already
    reported it.
    """

    def __init__(self, progress: Progress, name: Phase, total: int | None) -> None:
        super().__init__(size=total)
        self.progress = progress
        self.name: Phase = name
        self._last: tuple[int, int] | None = None

    def restart(self) -> None:
        """Count from zero again (a retried transfer); reported with the next update."""
        self.value = 0

    def call(self, hook_name: str | None = None, **kwargs: Any) -> None:
        """Report the current state (fsspec calls this on every update)."""
        del hook_name, kwargs
        if self.size is None:
            return
        state = (int(self.value), int(self.size))
        if state != self._last:
            self._last = state
            self.progress.update(self.name, *state)
