"""Rich displays shared by the magics and the panel: everything escaped, secrets redacted.

Adapter: the live run display talks to IPython's display machinery; the core never does.

A run shown while it is active is a *live* display: status, elapsed time, the last lines of
its log and (where widgets render) a Cancel button, redrawn in place by the process's one run
follower (:mod:`flyte_jupyter.launch.follow`) until the run ends; then it shows the run's
summary with its outputs, exactly what a finished run shows. A display cannot outlive its
kernel's updates, so it never claims more than it knows: each frame says when its status was
read and links the run page, and when the kernel stops, its displays say so.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte_jupyter._html import escape
from flyte_jupyter.bundle.display import table_html
from flyte_jupyter.errors import FlyteJupyterError
from flyte_jupyter.launch.follow import SLOW, follower
from flyte_jupyter.launch.logtext import RunLog, tail_lines
from flyte_jupyter.launch.run import Run, run_html
from flyte_jupyter.redaction import Redactor, redact_text, redact_url
from flyte_jupyter.settings.local_runs import run_mode

if TYPE_CHECKING:
    from collections.abc import Callable

    from flyte_jupyter.launch.model import RunRecord
    from flyte_jupyter.settings import Settings

logger = logging.getLogger(__name__)

RUN_MIME = "application/vnd.flyte-jupyter.run+json"  # rendered by the JupyterLab extension
TAIL_LINES = 20  # log lines a live display shows
REDRAW = 1.0  # seconds between two frames of a live display (elapsed time, log tail)
_TAIL_BYTES = 32 * 1024  # read no more of a log file per frame
_BUSY = 10  # live displays beyond this many redraw less often (each every n/10 seconds)
_MUTED = "color:var(--jp-content-font-color2,#6e7781)"
_TAIL_STYLE = (
    "white-space:pre-wrap;word-break:break-word;max-height:22em;overflow:auto;margin:4px 0;"
    "padding:4px 6px;font-size:0.9em;background:var(--jp-layout-color2,#f6f8fa);"
    "color:var(--jp-content-font-color1,#1f2328)"
)


class SettingsView:
    """The resolved settings with the source of each value (``%flyte_settings``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def rows(self) -> list[tuple[str, str, str]]:
        """``(key, redacted value, source)`` rows."""
        from flyte_jupyter.settings import describe

        return describe(self.settings)

    def __repr__(self) -> str:
        from flyte_jupyter.settings import describe_text

        return describe_text(self.settings)

    def _repr_html_(self) -> str:
        return table_html(
            list(self.rows()),
            head=("setting", "value", "source"),
            limit=len(self.rows()),
            css_class="flyte-jupyter-settings",
        )


def run_summary_html(record: RunRecord) -> str:
    """A run's summary as a cell shows it: :func:`run_html`, then how a local run ran.

    The last line ("ran in the warm worker ...", with the launcher's note when the run did not
    run the way ``local_runs`` asked) appears only when the record says; remote runs and runs
    recorded before the setting existed show none.
    """
    summary = run_html(record)
    mode = run_mode(record.extra, sdk=record.sdk, kind=record.kind)
    if mode is None:
        return summary
    line = f"{'ran' if record.done else 'running'} {escape(mode.text)}"
    if mode.note:
        line += f"<br><span style='color:#777'>{escape(redact_text(mode.note))}</span>"
    return (
        f"<div class='flyte-jupyter-run-view'>{summary}"
        f"<div class='flyte-jupyter-run-mode'>{line}</div></div>"
    )


def elapsed_text(seconds: float) -> str:
    """``8 s``, ``2 min 05 s``, ``1 h 02 min``."""
    total = max(0, int(seconds))
    minutes, secs = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def _clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def _page_link(record: RunRecord, text: str) -> str:
    url = redact_url(record.url) if record.url else ""
    if not url:
        return escape(text)
    return f"<a href='{escape(url)}' target='_blank'>{escape(text)}</a>"


def live_html(record: RunRecord, tail: list[str], *, now: float | None = None) -> str:
    """A frame of an active run's display: summary, elapsed time, when read, log tail.

    Once the run ended, the frame is :func:`run_summary_html` alone (outputs or error).
    """
    if record.done:
        return run_summary_html(record)
    now = time.time() if now is None else now
    verb = "queued for" if record.status == "QUEUED" else "running for"  # since launched
    meta = (
        f"<div class='flyte-jupyter-live-meta' style='{_MUTED}'>{verb} "
        f"{escape(elapsed_text(now - record.created_at))} &middot; status as of "
        f"{escape(_clock(now))}; {_page_link(record, 'open the run page')} for the live "
        "status</div>"
    )
    if tail:
        log = (
            f"<pre class='flyte-jupyter-live-log' style='{_TAIL_STYLE}'>"
            f"{escape(chr(10).join(tail))}</pre>"
        )
    else:
        log = f"<div class='flyte-jupyter-live-log' style='{_MUTED}'><i>no output yet</i></div>"
    lost = record.extra.get("connection")  # the backend could not be reached: since when, why
    if lost:
        meta += (
            "<div class='flyte-jupyter-live-connection' style='color:#9a6700'>⚠ "
            f"{escape(redact_text(str(lost)))}</div>"
        )
    return f"<div class='flyte-jupyter-live'>{run_summary_html(record)}{meta}{log}</div>"


def stopped_html(record: RunRecord, *, at: float | None = None) -> str:
    """What a live display says once its kernel stopped: it will not change any more."""
    if record.done:
        return run_summary_html(record)
    at = time.time() if at is None else at
    note = (
        f"<div class='flyte-jupyter-live-stopped' style='{_MUTED}'>The kernel stopped at "
        f"{escape(_clock(at))}: this display no longer updates (status as of then: "
        f"{escape(record.status)}); {_page_link(record, 'open the run page')} for the live "
        "status.</div>"
    )
    return f"<div class='flyte-jupyter-live'>{run_summary_html(record)}{note}</div>"


class LiveRun(Run):
    """A :class:`~flyte_jupyter.launch.run.Run` whose notebook output follows it until it ends.

    What ``%%flyte_run`` and the panel hand back: shown in a cell while the run is active, the
    display is a live frame (:func:`live_html`, a Cancel button where widgets render) updated
    in place through the process's one run follower; once the run ended, its summary. Shown
    again (or the cell run again), it starts from the run's current status.
    """

    @classmethod
    def of(cls, run: Run) -> LiveRun:
        """The same run, displayed live."""
        return cls(run._record, run._launcher, run._entity)  # noqa: SLF001 - same run, adapter class

    _redactor: Redactor | None = None

    @property
    def redactor(self) -> Redactor:
        """Hides the values of the kernel's secret-named environment variables in its logs."""
        if self._redactor is None:
            self._redactor = Redactor.of(os.environ)
        return self._redactor

    def logs(self) -> RunLog:
        """Everything the run printed so far, displayed readable in a notebook (a ``str``)."""
        text = super().logs()
        return RunLog(text, ended=self._record.done, redactor=self.redactor)

    def log_tail(self, record: RunRecord, lines: int = TAIL_LINES) -> list[str]:
        """The last ``lines`` readable, redacted lines of the log (reads at most 32 KiB)."""
        path = record.log_path
        text = _read_end(Path(path)) if path else self._launcher.logs(record)
        return tail_lines(text, lines, self.redactor)

    _live: _LiveDisplay | None = None
    _waited_in: int | None = None

    def _ipython_display_(self) -> None:
        """Show the live display (the one ``--wait`` showed, if this is still its cell)."""
        if self._waited_in is not None and self._waited_in == _execution_count():
            self._waited_in = None  # the Run the cell returns is the output it already has
            return
        self._live = _LiveDisplay(self)
        self._live.show()

    def show_while_waiting(self) -> None:
        """Show the live display now (``--wait``); the cell's own display of it adds none.

        Only where the frontend follows the output live: JupyterLab with this extension
        (its renderer follows the run from the server). nbval and older tools keep a cell's
        first ``display_data`` and drop its updates, so there the run shows once it ended.
        """
        if not _lab_renders_runs():
            return
        self._ipython_display_()
        self._waited_in = _execution_count()

    def settle_display(self) -> None:
        """Draw the run's current frame now (an ended run's final one) in the calling thread.

        The follower thread draws frames a moment apart; a cell that waited for the run must
        end with its final frame, before the frontend or nbclient takes the cell as done.
        """
        live = self._live
        if live is not None and not live.ended and live.handle is not None:
            live.poll()

    def _repr_html_(self) -> str:
        return run_summary_html(self.record)


def _execution_count() -> int | None:
    from IPython.core.getipython import get_ipython

    return getattr(get_ipython(), "execution_count", None)  # type: ignore[no-untyped-call]


def _read_end(path: Path) -> str:
    """The last :data:`_TAIL_BYTES` of a file, from its first whole line ('' when absent)."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, 2)
            file.seek(max(0, size - _TAIL_BYTES))
            data = file.read()
    except OSError:
        return ""
    if size > _TAIL_BYTES:
        data = data.partition(b"\n")[2]
    return data.decode("utf-8", errors="replace")


def _lab_renders_runs() -> bool:
    """True when JupyterLab's flyte_jupyter extension is connected to this kernel.

    It told the kernel the notebook's path (over the comm the session opens), so it renders
    the run MIME type: live from the server, with its own (confirmed) Cancel.
    """
    from IPython.core.getipython import get_ipython

    shell = get_ipython()  # type: ignore[no-untyped-call]
    registry = getattr(getattr(shell, "magics_manager", None), "registry", {})
    session = getattr(registry.get("FlyteMagics"), "session", None)
    return bool(getattr(session, "followed_notebook", None))


def _widgets_render() -> bool:
    """True in a kernel with a frontend (widgets may render); False in a bare shell."""
    from IPython.core.getipython import get_ipython

    shell = get_ipython()  # type: ignore[no-untyped-call]
    return shell is not None and getattr(shell, "kernel", None) is not None


class _LiveDisplay:
    """One live display of a run: draws frames until the run ends (in the follower thread)."""

    def __init__(self, run: LiveRun) -> None:
        self.run = run
        self.record: RunRecord = run._record  # noqa: SLF001 - what the display was made from
        self.handle: Any = None
        self.button: Any = None
        self.cancel_box: Any = None
        self.button_handle: Any = None
        self.cancel_error: str | None = None
        self._next_frame = 0.0
        self._lock = threading.Lock()
        self.ended = False

    def show(self) -> None:
        from IPython.core.display_functions import display

        self.record = record = self.run.record
        self.handle = display(self.bundle(record), raw=True, display_id=True)  # type: ignore[no-untyped-call]
        if record.done or self.handle is None:
            return
        # JupyterLab with our extension renders the run MIME type, Cancel (confirmed) included
        if _widgets_render() and not _lab_renders_runs():
            self.cancel_box, self.button = _cancel_button(self.cancel)
            self.button_handle = display(self.cancel_box, display_id=True)  # type: ignore[no-untyped-call]
        _LIVE.add(self)
        self._next_frame = time.monotonic() + REDRAW
        follower().watch(self.poll, SLOW, start_in=SLOW)

    def bundle(self, record: RunRecord) -> dict[str, Any]:
        """The output of one frame: HTML (every frontend), text, and the run MIME type.

        The MIME type goes with frames of an active run only: JupyterLab's extension renders
        it from the server, so the output stays live when this kernel is gone (the kernel's
        last frame has it); an ended run's summary is the same everywhere.
        """
        data: dict[str, Any] = {
            "text/html": self.frame(record),
            "text/plain": f"Run {record.id} of {record.flyte_name}: {record.status}",
        }
        if not record.done:
            data[RUN_MIME] = {
                "id": record.id,
                "status": record.status,
                "flyte_name": record.flyte_name,
            }
        return data

    def frame(self, record: RunRecord) -> str:
        html = live_html(record, [] if record.done else self.run.log_tail(record))
        if self.cancel_error:
            html += (
                "<div style='color:#cf222e'>⚠ Cancel failed: "
                f"{escape(redact_text(self.cancel_error))}</div>"
            )
        return html

    def poll(self) -> bool:
        """Draw a frame when the status changed or a second passed; False once the run ended."""
        record = self.run.record
        now = time.monotonic()
        changed = record.status != self.record.status
        if not (record.done or changed or now >= self._next_frame):
            return True
        # many runs followed at once: fewer frames each, so the kernel's output stays light
        self._next_frame = now + REDRAW * max(1.0, len(_LIVE) / _BUSY)
        self.record = record
        self.handle.update(self.bundle(record), raw=True)
        if record.done:
            self.end()
        return not record.done

    def end(self) -> None:
        """Take the Cancel button away and stop being a live display."""
        from IPython.core.display import HTML

        with self._lock:
            if self.ended:
                return
            self.ended = True
        _LIVE.discard(self)
        if self.cancel_box is not None:
            self.button_handle.update(HTML(""))  # type: ignore[no-untyped-call]
            for widget in (*self.cancel_box.children, self.cancel_box):
                widget.close()

    def cancel(self) -> None:
        """What the Cancel button does: cancel the run (in a thread: it may take seconds)."""
        if self.button is not None:
            self.button.disabled = True
            self.button.description = "Cancelling…"

        def cancel() -> None:
            try:
                self.run.cancel()
            except FlyteJupyterError as exc:
                self.cancel_error = str(exc)
                if self.button is not None:
                    self.button.disabled = False
                    self.button.description = CANCEL_LABEL
            self._next_frame = 0.0  # show the outcome at the next poll

        threading.Thread(target=cancel, name="flyte-cancel", daemon=True).start()

    def kernel_stopped(self) -> None:
        """The kernel is ending: leave a frame that says it no longer updates."""
        if self.ended:
            return
        data = {**self.bundle(self.record), "text/html": stopped_html(self.record)}
        self.handle.update(data, raw=True)
        self.end()


CANCEL_LABEL = "Cancel run"
CONFIRM_LABEL = "Click again to cancel"
CONFIRM_SECONDS = 5.0  # how long a first click waits for the second


def confirm_clicks(button: Any, action: Callable[[], None]) -> None:
    """Make ``button`` ask before ``action``: a first click arms it, a second one acts.

    Cancelling a run cannot be undone; a stray click must not do it (JupyterLab's renderer and
    the sidebar ask in a dialog, which ipywidgets lack). Unconfirmed, the button goes back to
    its label after :data:`CONFIRM_SECONDS`.
    """
    armed: list[float] = [0.0]
    label = button.description

    def disarm(at: float) -> None:
        if armed[0] == at and not button.disabled:
            armed[0] = 0.0
            button.description = label

    def clicked(_button: Any) -> None:
        now = time.monotonic()
        if armed[0] and now - armed[0] < CONFIRM_SECONDS:
            armed[0] = 0.0
            action()
            return
        armed[0] = now
        button.description = CONFIRM_LABEL
        timer = threading.Timer(CONFIRM_SECONDS, disarm, (now,))
        timer.daemon = True
        timer.start()

    button.on_click(clicked)


# A Cancel button is pointless where its kernel is gone (the widget manager marks the view
# disconnected), and doubles the one of JupyterLab's run renderer (.fj-run-output) when that
# renders the run MIME type beside it: hide it there. The rule comes with the button.
_CANCEL_CSS = (
    "<style>.flyte-jupyter-cancel.jupyter-widgets-disconnected,"
    ".jp-OutputArea:has(.fj-run-output) .flyte-jupyter-cancel{display:none!important}</style>"
)


def _cancel_button(on_cancel: Any) -> tuple[Any, Any]:
    """``(box, button)``: the Cancel button, in a box that carries its style rule."""
    import ipywidgets as w

    button = w.Button(
        description=CANCEL_LABEL,
        icon="stop",
        button_style="danger",
        tooltip="Stop this run; it ends ABORTED (click twice: a second click confirms)",
        layout=w.Layout(width="auto"),
    )
    confirm_clicks(button, on_cancel)
    box = w.HBox([w.HTML(_CANCEL_CSS, layout=w.Layout(display="none")), button])
    box.add_class("flyte-jupyter-cancel")
    return box, button


class _LiveDisplays:
    """The live displays of this kernel, so that they can say so when the kernel stops."""

    def __init__(self) -> None:
        self._displays: weakref.WeakSet[_LiveDisplay] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._registered = False

    def add(self, display: _LiveDisplay) -> None:
        with self._lock:
            self._displays.add(display)
            if not self._registered:
                atexit.register(self.kernel_stopped)  # before ipykernel's own: LIFO
                self._registered = True

    def discard(self, display: _LiveDisplay) -> None:
        with self._lock:
            self._displays.discard(display)

    def __len__(self) -> int:
        with self._lock:
            return len(self._displays)

    def displays(self) -> list[_LiveDisplay]:
        """The live displays (those whose run has not ended)."""
        with self._lock:
            return list(self._displays)

    def kernel_stopped(self) -> None:
        """Mark every live display of this kernel as stopped (at exit; best effort)."""
        for display in self.displays():
            _stop_quietly(display)


def _stop_quietly(display: _LiveDisplay) -> None:
    try:
        display.kernel_stopped()
    except Exception:  # the kernel is going away: never fail its exit
        logger.debug("Marking a live display stopped failed", exc_info=True)


_LIVE = _LiveDisplays()
