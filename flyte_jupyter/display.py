"""Rich displays shared by the magics and the panel: everything escaped, secrets redacted.

Adapter: the live run display talks to IPython's display machinery; the core never does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyte_jupyter._html import escape
from flyte_jupyter.launch.follow import SLOW, follower
from flyte_jupyter.launch.run import Run, run_html
from flyte_jupyter.redaction import redact_text
from flyte_jupyter.settings.local_runs import run_mode

if TYPE_CHECKING:
    from flyte_jupyter.launch.model import RunRecord
    from flyte_jupyter.settings import Settings


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
        body = "".join(
            f"<tr><td><code>{escape(k)}</code></td><td>{escape(v)}</td><td>{escape(s)}</td></tr>"
            for k, v, s in self.rows()
        )
        head = "<tr><th>setting</th><th>value</th><th>source</th></tr>"
        return f"<table class='flyte-jupyter-settings'>{head}{body}</table>"


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


class LiveRun(Run):
    """A :class:`~flyte_jupyter.launch.run.Run` whose notebook output follows it until it ends.

    What ``%%flyte_run`` and the panel hand back: shown in a cell, the summary is updated in
    place (through the process's one run follower) whenever the run's status changes.
    """

    @classmethod
    def of(cls, run: Run) -> LiveRun:
        """The same run, displayed live."""
        return cls(run._record, run._launcher, run._entity)  # noqa: SLF001 - same run, adapter class

    def _ipython_display_(self) -> None:
        from IPython.core.display import HTML
        from IPython.core.display_functions import display

        handle = display(HTML(run_summary_html(self.record)), display_id=True)  # type: ignore[no-untyped-call]
        if not self._record.done and handle is not None:
            follower().watch(_DisplayFollow(self, handle), SLOW)

    def _repr_html_(self) -> str:
        return run_summary_html(self.record)


class _DisplayFollow:
    """Update a run's display when its status changes; stop once it ended."""

    def __init__(self, run: Run, handle: Any) -> None:
        self.run = run
        self.handle = handle
        self.shown: RunRecord = run._record  # noqa: SLF001 - what the display was made from

    def __call__(self) -> bool:
        from IPython.core.display import HTML

        current = self.run.record
        if current.status != self.shown.status or current.done:
            self.handle.update(HTML(run_summary_html(current)))  # type: ignore[no-untyped-call]
            self.shown = current
        return not current.done
