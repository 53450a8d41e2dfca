"""Runs read back from the run store: the same :class:`Run` handles ``%flyte_run`` returns.

After a kernel restart the notebook's variables are gone but its runs are not: they live in
the run store under the settings' home. :func:`find_runs` and :func:`find_run` turn its records
into :class:`Run` objects (status, error, logs, outputs as previews, cancel), and
:class:`RunList` shows a list of them as a table. The adapters (``flyte_jupyter.runs()``,
``flyte_jupyter.get_run()``, ``%flyte_runs``) resolve the settings and call these.
"""

from __future__ import annotations

import dataclasses
import difflib
import time
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, cast

from flyte_jupyter._html import escape
from flyte_jupyter.errors import LaunchError
from flyte_jupyter.launch.model import STATUSES, RunRecord
from flyte_jupyter.launch.run import Run, status_color
from flyte_jupyter.launch.runstore import RunStore
from flyte_jupyter.redaction import redact_url

if TYPE_CHECKING:
    from collections.abc import Iterable

    from flyte_jupyter.launch.model import Deployed, DeploySpec, Launcher
    from flyte_jupyter.settings import Backend, Settings

DEFAULT_LIMIT = 20
_PAGE = 200  # records read per query while filters that SQL cannot apply drop some


class _Deferred:
    """A record's launcher, made on first use (a remote one needs its config only then).

    Listing runs must not fail because one of them ran on a cluster whose config is missing
    here: only reading that run's live status, logs or outputs, or cancelling it, does.
    """

    def __init__(self, settings: Settings, backend: str, sdk: str = "flytekit") -> None:
        self.name = backend
        self._sdk = sdk
        self._settings = settings
        self._launcher: Launcher | None = None

    def _get(self) -> Launcher:
        if self._launcher is None:
            from flyte_jupyter.launch.backends import LAUNCHERS, launcher_for

            if self.name not in LAUNCHERS:
                msg = f"This run ran on backend {self.name!r}, unknown to this flyte_jupyter."
                raise LaunchError(msg)
            backend = cast("Backend", self.name)
            settings = dataclasses.replace(self._settings, backend=backend)
            self._launcher = launcher_for(settings, self._sdk)
        return self._launcher

    def submit(self, spec: Any) -> RunRecord:
        return self._get().submit(spec)

    def refresh(self, record: RunRecord) -> RunRecord:
        return self._get().refresh(record)

    def outputs_pb(self, record: RunRecord) -> bytes | None:
        return self._get().outputs_pb(record)

    def logs(self, record: RunRecord) -> str:
        return self._get().logs(record)

    def cancel(self, record: RunRecord) -> RunRecord:
        return self._get().cancel(record)

    def deploy(self, spec: DeploySpec) -> list[Deployed]:
        return self._get().deploy(spec)


class RunList(list[Run]):
    """Runs, newest first; shown as a table (HTML in Jupyter, aligned text elsewhere)."""

    def __repr__(self) -> str:
        if not self:
            return "No runs."
        rows = [("id", "entity", "status", "notebook", "started", "took", "version")]
        rows += [_cells(run.record) for run in self]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )

    def _repr_html_(self) -> str:
        if not self:
            return "<p class='flyte-jupyter-runs'>No runs.</p>"
        head = "".join(
            f"<th style='text-align:left'>{name}</th>"
            for name in ("id", "entity", "status", "notebook", "started", "took", "version")
        )
        body = "".join(_row_html(run.record) for run in self)
        return f"<table class='flyte-jupyter-runs'><tr>{head}</tr>{body}</table>"


def find_runs(
    settings: Settings,
    *,
    notebook: str | None = None,
    entity: str | None = None,
    status: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> RunList:
    """The newest runs of the settings' run store that match every filter given.

    Parameters
    ----------
    settings
        Whose home holds the run store; also what remote runs are followed with.
    notebook
        A notebook path as recorded, or its file name (``analysis.ipynb``), or its name
        without the suffix.
    entity
        A task/workflow's name in the notebook (``square``) or its Flyte name
        (``nb_analysis.square``).
    status
        QUEUED, RUNNING, SUCCEEDED, FAILED or ABORTED (any letter case).
    limit
        At most this many runs (at least 1).

    Raises
    ------
    LaunchError
        A filter has a value no run can have, or the run store cannot be read.
    """
    wanted = _status(status)
    if limit < 1:
        msg = f"limit must be 1 or more, got {limit}."
        raise LaunchError(msg)
    store = RunStore(settings.home / "runs.sqlite")
    found = RunList()
    launchers: dict[tuple[str, str], _Deferred] = {}
    for record in _matching(store, wanted, notebook, entity):
        backend = launchers.setdefault(
            (record.backend, record.sdk), _Deferred(settings, record.backend, record.sdk)
        )
        found.append(Run(record, backend))
        if len(found) == limit:
            break
    return found


def find_run(settings: Settings, run_id: str) -> Run:
    """The run ``run_id`` of the settings' run store.

    Raises
    ------
    LaunchError
        No such run: the message names the run store and the closest ids it has.
    """
    store = RunStore(settings.home / "runs.sqlite")
    record = store.get(run_id.strip())
    if record is None:
        known = [r.id for r in store.list(limit=_PAGE)]
        close = difflib.get_close_matches(run_id.strip(), known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        msg = (
            f"No run {run_id!r} in the run store {store.path}.{hint} "
            "flyte_jupyter.runs() lists the runs it has (the home folder is the home setting, "
            "FLYTE_JUPYTER_HOME)."
        )
        raise LaunchError(msg)
    return Run(record, _Deferred(settings, record.backend, record.sdk))


def _status(status: str | None) -> str | None:
    if status is None:
        return None
    wanted = status.strip().upper()
    if wanted not in STATUSES:
        msg = f"status must be one of {', '.join(STATUSES)}, got {status!r}."
        raise LaunchError(msg)
    return wanted


def _matching(
    store: RunStore, status: str | None, notebook: str | None, entity: str | None
) -> Iterable[RunRecord]:
    """Records newest first, filtered (the notebook and entity filters match loosely)."""
    offset = 0
    while True:
        page = store.list(status=status, limit=_PAGE, offset=offset)
        for record in page:
            if _notebook_matches(record.notebook, notebook) and _entity_matches(record, entity):
                yield record
        if len(page) < _PAGE:
            return
        offset += _PAGE


def _notebook_matches(recorded: str | None, wanted: str | None) -> bool:
    if wanted is None:
        return True
    if not recorded:
        return False
    if recorded == wanted:
        return True
    path, asked = PurePath(recorded), PurePath(wanted)
    if len(asked.parts) > 1:  # a path: the recorded one must end with it
        return path.parts[-len(asked.parts) :] == asked.parts
    return wanted in (path.name, path.stem)


def _entity_matches(record: RunRecord, wanted: str | None) -> bool:
    return wanted is None or wanted in (record.entity, record.flyte_name)


def _cells(record: RunRecord) -> tuple[str, str, str, str, str, str, str]:
    return (
        record.id,
        record.entity,
        record.status,
        PurePath(record.notebook).name if record.notebook else "",
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created_at)),
        _took(record),
        record.version[:16],
    )


def _took(record: RunRecord) -> str:
    """How long the run took (so far, while it runs)."""
    end = record.updated_at if record.done else time.time()
    seconds = max(0.0, end - record.created_at)
    if seconds < 60:  # noqa: PLR2004 - a minute
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _row_html(record: RunRecord) -> str:
    run_id, entity, status, notebook, started, took, version = _cells(record)
    url = redact_url(record.url) if record.url else ""
    shown_id = f"<code>{escape(run_id)}</code>"
    link = f"<a href='{escape(url)}' target='_blank'>{shown_id}</a>" if url else shown_id
    color = status_color(status)
    cells = (
        link,
        f"<span title='{escape(record.flyte_name)}'>{escape(entity)}</span>",
        f"<span style='color:{color};font-weight:bold'>{escape(status)}</span>",
        f"<span title='{escape(record.notebook or '')}'>{escape(notebook)}</span>",
        escape(started),
        escape(took),
        f"<code>{escape(version)}</code>",
    )
    return "<tr>" + "".join(f"<td style='text-align:left'>{cell}</td>" for cell in cells) + "</tr>"
