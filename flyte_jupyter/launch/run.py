"""A run as the notebook sees it: id, URL, status, outputs as Python values, logs, cancel.

A failed run's error has its traceback pointed at notebook cells (the mapping the run's record
keeps, :mod:`flyte_jupyter.capture.origins`), and :meth:`Run.check` (``wait(raise_on_failure=
True)``, ``%flyte_run --wait``) raises it as :class:`~flyte_jupyter.errors.RunFailedError`.
Its live display in a notebook (an output that follows the run) is the adapters' work:
:class:`flyte_jupyter.display.LiveRun`.
"""

from __future__ import annotations

import re
import textwrap
import threading
import time
from typing import TYPE_CHECKING, Any, NamedTuple

from flyte_jupyter._html import escape
from flyte_jupyter.capture.origins import CellOrigins
from flyte_jupyter.errors import LaunchError, RunFailedError
from flyte_jupyter.launch.follow import FAST, follower
from flyte_jupyter.launch.logtext import RunLog
from flyte_jupyter.redaction import redact, redact_text, redact_url

if TYPE_CHECKING:
    from flyte_jupyter.launch.model import Launcher, RunRecord

_COLORS = {
    "QUEUED": "#777",
    "RUNNING": "#1f6feb",
    "SUCCEEDED": "#1a7f37",
    "FAILED": "#cf222e",
    "ABORTED": "#9a6700",
}


_WAKE = 1.0  # seconds between two looks at the clock while wait() blocks without a timeout
_FAILED = frozenset({"FAILED", "ABORTED"})
_SHOWN_ERROR = 4000  # characters of a run's error shown in a cell (its end: the exception)
_LOG_TAIL = 64_000  # characters at the end of a log searched for a failed run's frames


# a frame that CellOrigins.map_text pointed at a cell: "cell [4], line 4, in boom"
_CELL_FRAME = re.compile(r"^\s*(cell .+?, line \d+(?:, in \S+)?) \(", re.MULTILINE)


class BundleRef(NamedTuple):
    """Which bundle a run runs: the digest of its manifest and the archive's store URI."""

    digest: str | None
    uri: str | None


class Run:
    """Handle on one run. Attributes read the run store; ``wait`` blocks until it ends.

    Parameters
    ----------
    record
        The run's record when the handle was made.
    launcher
        The backend that started it.
    entity
        The kernel's task/workflow object, whose interface turns outputs into Python values
        (None for runs loaded from the store after a restart: outputs are then previews).
    """

    def __init__(self, record: RunRecord, launcher: Launcher, entity: Any = None) -> None:
        self._record = record
        self._launcher = launcher
        self._entity = entity

    # -- state -----------------------------------------------------------------------------------

    @property
    def record(self) -> RunRecord:
        """The current record (refreshed from the backend unless the run has ended)."""
        if not self._record.done:
            self._record = self._launcher.refresh(self._record)
        return self._record

    @property
    def id(self) -> str:
        """The run's id (its Flyte execution name)."""
        return self._record.id

    @property
    def url(self) -> str | None:
        """Where to watch the run: its JupyterLab page (local) or the Flyte console (remote)."""
        return self._record.url

    @property
    def status(self) -> str:
        """QUEUED, RUNNING, SUCCEEDED, FAILED or ABORTED."""
        return self.record.status

    @property
    def entity(self) -> str:
        """The task or workflow's name in the notebook (``square``), as the run store has it."""
        return self._record.entity

    @property
    def flyte_name(self) -> str:
        """The task or workflow's Flyte name (``nb_quickstart.square``)."""
        return self._record.flyte_name

    @property
    def version(self) -> str:
        """The version its entities were registered under."""
        return self._record.version

    @property
    def bundle(self) -> BundleRef:
        """Digest and store URI of the bundle it runs (both None for copy style ``none``).

        Not the :class:`~flyte_jupyter.bundle.Bundle` that ``%flyte_bundle`` returns: that
        (files, module, archive on disk) exists only in the kernel that built it.
        """
        return BundleRef(self._record.bundle_digest, self._record.bundle_uri)

    @property
    def error(self) -> str | None:
        """The error message of a failed run, its traceback pointed at notebook cells.

        A frame of the generated module reads ``cell [4], line 4, in boom (nb_x.py, line
        10)``; the run store keeps the text as the run wrote it.
        """
        return mapped_error(self.record)

    @property
    def failed(self) -> bool:
        """True once the run ended FAILED or ABORTED."""
        return self.record.status in _FAILED

    # -- actions ---------------------------------------------------------------------------------

    def check(self) -> Run:
        """Raise :class:`~flyte_jupyter.errors.RunFailedError` if the run ended FAILED/ABORTED.

        The error shows the run's error (mapped to notebook cells) and keeps the Run as
        ``.run``; a run that succeeded or has not ended returns itself.
        """
        record = self.record
        if record.status in _FAILED:
            raise RunFailedError(failure_message(record, self._log_for_frames(record)), self)
        return self

    def _log_for_frames(self, record: RunRecord) -> str | None:
        """The end of the run's log when its error names no frame of the module, else None.

        flyte v2 keeps the traceback in the log, not in its error document. None too when
        there is nothing to map or the log cannot be read.
        """
        if CellOrigins.from_extra(record.extra) is None or _CELL_FRAME.search(
            mapped_error(record) or ""
        ):
            return None
        try:
            return self._launcher.logs(record)[-_LOG_TAIL:]
        except (LaunchError, OSError):
            return None  # the error is raised anyway, without the frames

    def wait(self, timeout: float | None = None, *, raise_on_failure: bool = False) -> Run:
        """Block until the run ends (or ``timeout`` seconds pass: LaunchError).

        The process's follower reads the run every :data:`~flyte_jupyter.launch.follow.FAST`
        seconds meanwhile; an error it meets is raised here. With ``raise_on_failure``, a run
        that ends FAILED or ABORTED raises :class:`~flyte_jupyter.errors.RunFailedError`
        (see :meth:`check`), so a notebook run stops there.
        """
        self._wait(timeout)
        return self.check() if raise_on_failure else self

    def _wait(self, timeout: float | None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        if self.record.done:
            return
        ended = threading.Event()
        failures: list[Exception] = []

        def poll() -> bool:
            try:
                done = self.record.done
            except Exception as exc:  # noqa: BLE001 - raised in the waiting thread below
                failures.append(exc)
                done = True
            if done:
                ended.set()
            return not done

        watch = follower().watch(poll, FAST)
        try:
            while not ended.wait(_WAKE if deadline is None else deadline - time.monotonic()):
                if deadline is not None and time.monotonic() >= deadline:
                    msg = f"Run {self.id} is still {self._record.status} after {timeout} s."
                    raise LaunchError(msg)
        finally:
            watch.cancel()
        if failures:
            raise failures[0]

    @property
    def outputs(self) -> Any:
        """The outputs as Python values: one value for one output, a tuple for several.

        Raises
        ------
        LaunchError
            The run has not succeeded (the message has the run's error).
        """
        record = self.record
        if record.status != "SUCCEEDED":
            error = mapped_error(record)
            detail = f": {redact_text(error)}" if error else ""
            msg = f"Run {self.id} is {record.status}{detail}. Outputs exist once it SUCCEEDED."
            raise RunFailedError(msg, self) if record.status in _FAILED else LaunchError(msg)
        data = self._launcher.outputs_pb(record)
        if self._entity is None or data is None:
            return dict(record.outputs or {})
        from flyte_jupyter.sdk import sdk_for

        return sdk_for(self._entity).outputs_to_python(self._entity, data)

    def logs(self) -> RunLog:
        """Everything the run printed so far: a ``str``, shown readable in a notebook."""
        record = self.record
        return RunLog(self._launcher.logs(record), ended=record.done)

    def cancel(self) -> Run:
        """Stop the run; it ends ABORTED."""
        self._record = self._launcher.cancel(self._record)
        return self

    # -- display ---------------------------------------------------------------------------------

    def __repr__(self) -> str:
        return (
            f"Run(id={self.id!r}, flyte_name={self.flyte_name!r}, status={self.status!r}, "
            f"url={self.url!r})"
        )

    def _repr_html_(self) -> str:
        return run_html(self.record)


def status_color(status: str) -> str:
    """The CSS color a status is shown in."""
    return _COLORS.get(status, "#777")


def run_html(record: RunRecord) -> str:
    """A run's summary: status, link, inputs, and outputs or error once it ended."""
    color = status_color(record.status)
    url = redact_url(record.url) if record.url else ""
    link = f"<a href='{escape(url)}' target='_blank'>{escape(url)}</a>" if url else ""
    title = (
        f"<b>{escape(record.flyte_name)}</b> &nbsp;<span style='color:{color};font-weight:bold'>"
        f"{escape(record.status)}</span> &nbsp;<code>{escape(record.id)}</code>"
    )
    where = (
        f"{escape(record.project)}/{escape(record.domain)} &middot; version "
        f"<code>{escape(record.version)}</code> &middot; {link}"
    )
    rows = [title, where]
    if record.inputs:
        rows.append(
            "inputs: "
            + ", ".join(f"{escape(k)}={escape(redact(k, v))}" for k, v in record.inputs.items())
        )
    if record.outputs:
        rows.append(
            "outputs: "
            + ", ".join(f"{escape(k)}={escape(redact(k, v))}" for k, v in record.outputs.items())
        )
    error = mapped_error(record)
    if error:
        rows.append(
            "<pre style='color:#cf222e;white-space:pre-wrap'>"
            f"{escape(redact_text(error[-_SHOWN_ERROR:]))}</pre>"
        )
    return "<div class='flyte-jupyter-run'>" + "<br>".join(rows) + "</div>"


def mapped_error(record: RunRecord) -> str | None:
    """The run's error with frames of the generated module pointed at notebook cells."""
    if not record.error:
        return record.error
    origins = CellOrigins.from_extra(record.extra)
    return record.error if origins is None else origins.map_text(record.error)


def failure_message(record: RunRecord, log: str | None = None) -> str:
    """Why a run failed, for :class:`~flyte_jupyter.errors.RunFailedError` (secrets redacted).

    The first line names the run, its status, the cell the error was raised in (the last
    frame mapped to a cell) and the exception. Then the frames in notebook cells with their
    code, or, when no frame is in a cell, the run's error (its end when long); then where the
    whole traceback and the logs are. Frames come from the error, else from ``log``, the end
    of the run's log.
    """
    error = redact_text(mapped_error(record) or "")
    texts = [line.strip() for line in error.splitlines() if line.strip()]
    summary = texts[-1] if texts else "no error message was recorded"
    frames = _cell_frames(error)
    origins = CellOrigins.from_extra(record.extra)
    if not frames and log and origins is not None:  # the traceback is in the log only
        frames = _cell_frames(redact_text(origins.map_text(log)))
    last = _CELL_FRAME.match(frames[-1]) if frames else None
    where = f" in {last[1]}" if last else ""
    head = f"Run {record.id} of {record.entity} ({record.flyte_name}) {record.status}{where}: "
    if frames:
        detail = "\n" + "\n".join(textwrap.indent(f, "    ") for f in frames)
    elif len(texts) > 1:
        body = error if len(error) <= _SHOWN_ERROR else "…" + error[-_SHOWN_ERROR:]
        detail = "\n" + textwrap.indent(body.strip(), "    ")
    else:
        detail = ""
    page = f" and its page {redact_url(record.url)}" if record.url else ""
    logs = (
        f"\nThe whole traceback is the Run's .error, and its logs are .logs(); the Run is this "
        f"error's .run, or flyte_jupyter.get_run({record.id!r}){page}."
    )
    return head + summary + detail + logs


def _cell_frames(text: str) -> list[str]:
    """The frames of ``text`` that point at a cell, each with its line of code under it."""
    lines = text.splitlines()
    return [
        "\n  ".join(part.strip() for part in lines[index : index + 2])
        for index, line in enumerate(lines)
        if _CELL_FRAME.match(line)
    ]
