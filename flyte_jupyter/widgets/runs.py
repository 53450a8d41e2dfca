"""The notebook's runs from the run store: status, entity, domain, age and a link to each.

While any run is active the process's follower (:mod:`flyte_jupyter.launch.follow`) re-reads
the store every ``interval`` seconds and updates the table; it stops once every run has ended.
Runs launched from the panel are followed through their ``Run`` handles (which ask the
backend); the others through the store, which their supervisors (local) or the Jupyter server
(remote) keep current.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

import ipywidgets as w

from flyte_jupyter._html import escape
from flyte_jupyter.launch.follow import Watch, follower
from flyte_jupyter.widgets.common import error_html, muted
from flyte_jupyter.widgets.state import message_of

if TYPE_CHECKING:
    from flyte_jupyter.launch import Run, RunRecord
    from flyte_jupyter.widgets.state import PanelState

logger = logging.getLogger(__name__)

LIMIT = 50
_COLORS = {
    "QUEUED": "#6e7781",
    "RUNNING": "#1f6feb",
    "SUCCEEDED": "#1a7f37",
    "FAILED": "#cf222e",
    "ABORTED": "#9a6700",
}
_MINUTE, _HOUR, _DAY = 60, 3600, 86400


def age(seconds: float) -> str:
    """``5 s ago``, ``3 min ago``, ``2 h ago``, ``4 d ago``."""
    seconds = max(0, int(seconds))
    if seconds < _MINUTE:
        return f"{seconds} s ago"
    if seconds < _HOUR:
        return f"{seconds // _MINUTE} min ago"
    if seconds < _DAY:
        return f"{seconds // _HOUR} h ago"
    return f"{seconds // _DAY} d ago"


def runs_html(records: list[RunRecord], now: float) -> str:
    """The runs as a table (everything escaped)."""
    if not records:
        return muted("No runs from this notebook yet.")
    cell = "style='padding:2px 10px 2px 0;text-align:left'"
    head = "".join(f"<th {cell}>{h}</th>" for h in ("status", "entity", "domain", "started", "run"))
    rows = []
    for r in records:
        color = _COLORS.get(r.status, "#6e7781")
        link = (
            f"<a href='{escape(r.url)}' target='_blank' style='color:#1f6feb'>"
            f"<code>{escape(r.id)}</code></a>"
            if r.url
            else f"<code>{escape(r.id)}</code>"
        )
        rows.append(
            f"<tr class='flyte-jupyter-run-row' data-status='{escape(r.status)}'>"
            f"<td {cell}><b style='color:{color}'>{escape(r.status)}</b></td>"
            f"<td {cell}><code>{escape(r.flyte_name)}</code></td>"
            f"<td {cell}>{escape(r.domain)}</td>"
            f"<td {cell}>{escape(age(now - r.created_at))}</td>"
            f"<td {cell}>{link}</td></tr>"
        )
    return f"<table class='flyte-jupyter-runs'><tr>{head}</tr>{''.join(rows)}</table>"


class RunsSection:
    """A live table of the notebook's runs."""

    def __init__(self, state: PanelState, *, interval: float = 1.0) -> None:
        self.state = state
        self.interval = interval
        self.table = w.HTML()
        self.refresh_button = w.Button(description="Refresh", icon="refresh", tooltip="Read again")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.widget = w.VBox([self.refresh_button, self.table])
        self.records: list[RunRecord] = []
        self._handles: dict[str, Run] = {}
        self._lock = threading.Lock()
        self._watch: Watch | None = None

    def track(self, run: Run) -> None:
        """Follow a run launched from the panel through its handle."""
        with self._lock:
            self._handles[run.id] = run
        self.refresh()

    def read(self) -> list[RunRecord]:
        """The notebook's runs, newest first (active ones refreshed through their handles)."""
        from flyte_jupyter.launch import RunStore

        settings = self.state.settings
        if settings is None:
            return []
        path = settings.home / "runs.sqlite"
        if not path.exists():
            return []
        records = RunStore(path).list(notebook=self.state.notebook, limit=LIMIT)
        with self._lock:
            handles = dict(self._handles)
        out = []
        for record in records:
            run = handles.get(record.id)
            out.append(run.record if run is not None and not record.done else record)
        return out

    def refresh(self) -> None:
        """Read the store now; follow it while any run is active."""
        try:
            self.records = self.read()
        except Exception as exc:  # noqa: BLE001 - an unreadable store is shown, not raised
            self.table.value = error_html(message_of(exc))
            return
        self.table.value = runs_html(self.records, time.time())
        if any(not r.done for r in self.records):
            self._ensure_polling()

    def _ensure_polling(self) -> None:
        with self._lock:
            if self._watch is not None and self._watch.active:
                return
            self._watch = follower().watch(self._poll, self.interval, start_in=self.interval)

    def _poll(self) -> bool:
        """Read the store once; True while some run is still active."""
        try:
            records = self.read()
        except Exception:  # keep polling; the next read may work
            logger.debug("Reading the run store failed", exc_info=True)
            return True
        self.records = records
        html = runs_html(records, time.time())
        if html != self.table.value:
            self.table.value = html
        return not all(r.done for r in records)

    @property
    def polling(self) -> bool:
        """True while the table follows active runs."""
        return self._watch is not None and self._watch.active

    def close(self) -> None:
        """Stop following runs."""
        with self._lock:
            if self._watch is not None:
                self._watch.cancel()
