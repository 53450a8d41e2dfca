"""What the run page and the error page show, as plain data for ``templates/``.

Nothing here writes markup: the templates escape every value they show (jinja2 autoescape,
see :class:`~flyte_jupyter.server.app.FlyteJupyterApp`), so a run's names, inputs, logs and
files stay text. Redaction happens before this module: the handler passes the record as
:func:`~flyte_jupyter.server.service.shown_record` returns it and details and log read with
the run's redactor. The page carries its style and its small script inline, under the
response's CSP nonce, so nothing injected into the page could run even if escaping were missed.
While the run has not ended, the script follows the log through the logs API and reloads the
page when the status changes.
"""

from __future__ import annotations

import functools
import shlex
import time
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING

from markupsafe import Markup

from flyte_jupyter._html import printable
from flyte_jupyter.launch.liveness import lost_note
from flyte_jupyter.settings.local_runs import run_mode

if TYPE_CHECKING:
    from collections.abc import Mapping

    from flyte_jupyter.launch.model import RunRecord
    from flyte_jupyter.server.details import BundleView, CommandView, RunDetails
    from flyte_jupyter.server.service import LogChunk
    from flyte_jupyter.settings.local_runs import RunMode

ERROR_TAIL = 20_000  # characters of a run's error the page shows (its end, where the cause is)
THEMES = ("light", "dark")


@dataclass(frozen=True)
class Event:
    """One line of the timeline."""

    status: str
    when: str
    since: str
    message: str


@dataclass(frozen=True)
class RunPage:
    """Everything ``run.html`` shows.

    ``data`` are the body's ``data-*`` attributes that ``static/run.js`` reads; ``style`` and
    ``script`` are the package's own static files.
    """

    run: RunRecord
    bundle: BundleView | None
    command: CommandView | None
    log: LogChunk
    data: Mapping[str, str]
    created: str
    elapsed: str
    lost_note: str | None
    ran: RunMode | None
    console_url: str | None
    error: str | None
    events: tuple[Event, ...]
    command_line: str | None
    nonce: str
    theme: str | None
    style: Markup
    script: Markup


@dataclass(frozen=True)
class ErrorPage:
    """Everything ``error.html`` shows: the status and the message, never a traceback."""

    status_code: int
    message: str
    nonce: str
    style: Markup
    theme: str | None = None


def run_page(
    record: RunRecord,
    details: RunDetails,
    log: LogChunk,
    *,
    urls: Mapping[str, str],
    nonce: str,
    xsrf: str,
    poll_interval: float,
    theme: str | None = None,
) -> RunPage:
    """The run page's data.

    Parameters
    ----------
    record
        The run, with its events, as :func:`~flyte_jupyter.server.service.shown_record`
        redacted it.
    details
        Its bundle and command, read from the run folder with the run's redactor.
    log
        The tail of its log (redacted).
    urls
        ``run``, ``logs`` and ``cancel`` API URLs of this run.
    nonce
        The CSP nonce the response's header allows the script and the style with.
    xsrf
        The XSRF token the cancel button sends.
    poll_interval
        Seconds between refreshes while the run has not ended.
    theme
        ``light`` or ``dark`` to follow JupyterLab's theme; anything else follows the browser.
    """
    note = lost_note(record)
    end = record.updated_at if record.done else time.time()
    command = details.command
    return RunPage(
        run=record,
        bundle=details.bundle,
        command=command,
        log=log,
        data={
            "status": record.status,
            "done": "1" if record.done else "0",
            "lost": "1" if note else "0",
            "run-url": urls["run"],
            "logs-url": urls["logs"],
            "cancel-url": urls["cancel"],
            "log-offset": str(log.offset),
            "poll": str(max(0.5, poll_interval)),
            "xsrf": xsrf,
        },
        created=when(record.created_at),
        elapsed=duration(end - record.created_at),
        lost_note=note,
        ran=run_mode(record.extra, sdk=record.sdk, kind=record.kind),
        console_url=(safe_href(record.url) if record.backend != "local" and record.url else None),
        error=record.error[-ERROR_TAIL:] if record.error else None,
        events=tuple(
            Event(status, when(at), duration(at - record.created_at), message)
            for at, status, message in record.events
        ),
        command_line=(
            " \\\n    ".join(shlex.quote(arg) for arg in command.argv) if command else None
        ),
        nonce=nonce,
        theme=theme if theme in THEMES else None,
        style=asset("run.css"),
        script=asset("run.js"),
    )


def error_page(status_code: int, message: str, *, nonce: str) -> ErrorPage:
    """The error page's data."""
    return ErrorPage(status_code, message, nonce=nonce, style=asset("run.css"))


@functools.cache
def asset(name: str) -> Markup:
    """A file of ``static/``, to be inserted in the page as written.

    Markup, i.e. not escaped: it is this package's own CSS or JavaScript, never data from a
    run or a request, and escaping would break its quotes and ``>`` selectors.
    """
    text = files("flyte_jupyter.server").joinpath("static", name).read_text(encoding="utf-8")
    return Markup(text)  # noqa: S704 - a file of this package (see the docstring)


def shown(value: object) -> object:
    r"""Every value a template shows passes here before it is escaped (jinja2's ``finalize``).

    A file name that is not UTF-8 (``caf\udce9.txt`` from ``os.fsdecode``) becomes
    ``caf\xe9.txt``: no page can carry a lone surrogate (see
    :func:`~flyte_jupyter.bundle.model.printable`).
    """
    return printable(value) if isinstance(value, str) else value


def safe_href(url: str) -> str:
    """Only http(s) links are clickable; anything else (javascript:, data:) becomes '#'."""
    return url if url.lower().startswith(("https://", "http://")) else "#"


def when(at: float) -> str:
    """A timestamp in the server's local time."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def duration(seconds: float) -> str:
    """``4.2 s``, ``3 min 5 s`` or ``2 h 14 min``."""
    seconds = max(0.0, seconds)  # clocks of different processes may disagree a little
    if seconds < 60:  # noqa: PLR2004 - one minute
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s"
