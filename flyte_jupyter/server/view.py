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
import os
import shlex
import time
from dataclasses import dataclass
from importlib.resources import files
from typing import TYPE_CHECKING
from urllib.parse import quote

from markupsafe import Markup

from flyte_jupyter._html import printable
from flyte_jupyter.launch.liveness import lost_note
from flyte_jupyter.server.source import highlighted, style_sheet
from flyte_jupyter.settings.local_runs import run_mode

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from flyte_jupyter.launch.model import RunRecord
    from flyte_jupyter.server.cellmap import Segment
    from flyte_jupyter.server.details import BundleView, CommandView, RunDetails
    from flyte_jupyter.server.logview import LogView
    from flyte_jupyter.server.nodeview import NodesView
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
    log: LogView
    nodes: NodesView | None
    source_html: Markup | None
    cells_mapped: bool
    error_segments: tuple[Segment, ...] | None
    notebook_href: str | None
    magic: str
    magic_note: str | None
    links: Mapping[str, str]
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
class PageContext:
    """What the run page needs of the server: its URLs, tokens and settings."""

    urls: Mapping[str, str]
    nonce: str
    xsrf: str
    poll_interval: float
    base_url: str = "/"
    root_dir: Path | None = None
    previous: str | None = None  # id of the previous run of the same entity
    theme: str | None = None


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
    log: LogView,
    nodes: NodesView | None,
    context: PageContext,
) -> RunPage:
    """The run page's data.

    Parameters
    ----------
    record
        The run, with its events, as :func:`~flyte_jupyter.server.service.shown_record`
        redacted it.
    details
        Its bundle, command and cell map, read from the run folder with the run's redactor.
    log
        The tail of its log (redacted, rendered by :mod:`~flyte_jupyter.server.logview`).
    nodes
        Its workflow nodes, when the run's folder records them.
    context
        URLs (``run``, ``logs``, ``lines``, ``cancel``, ``compare``), the CSP nonce, the XSRF
        token the cancel button sends, seconds between refreshes, and ``light``/``dark`` to
        follow JupyterLab's theme (anything else follows the browser).
    """
    note = lost_note(record)
    end = record.updated_at if record.done else time.time()
    command = details.command
    bundle = details.bundle
    magic, magic_note = magic_line(record, command)
    return RunPage(
        run=record,
        bundle=bundle,
        command=command,
        log=log,
        nodes=nodes,
        source_html=highlighted(bundle.source) if bundle and bundle.source else None,
        cells_mapped=details.cells.mapped,
        error_segments=(
            details.cells.segments(record.error[-ERROR_TAIL:]) if record.error else None
        ),
        notebook_href=notebook_href(record.notebook, context.root_dir, context.base_url),
        magic=magic,
        magic_note=magic_note,
        links={k: v for k, v in context.urls.items() if k == "compare" and context.previous},
        data=script_data(record, log, nodes, context, lost=note is not None),
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
        nonce=context.nonce,
        theme=context.theme if context.theme in THEMES else None,
        style=Markup(asset("run.css") + "\n" + style_sheet()),  # noqa: S704 - our own CSS
        script=asset("run.js"),
    )


def script_data(
    record: RunRecord, log: LogView, nodes: NodesView | None, context: PageContext, *, lost: bool
) -> dict[str, str]:
    """The body's ``data-*`` attributes that ``static/run.js`` reads."""
    return {
        "status": record.status,
        "done": "1" if record.done else "0",
        "lost": "1" if lost else "0",
        "run-url": context.urls["run"],
        "logs-url": context.urls["logs"],
        "lines-url": context.urls["lines"],
        "cancel-url": context.urls["cancel"],
        "log-offset": str(log.offset),
        "poll": str(max(0.5, context.poll_interval)),
        "xsrf": context.xsrf,
        "theme-url": context.urls.get("theme", ""),
        "nodes-stamp": repr(nodes.stamp) if nodes and nodes.stamp is not None else "",
    }


def magic_line(record: RunRecord, command: CommandView | None) -> tuple[str, str | None]:
    """The ``%flyte_run`` line that launches this run again, and what it cannot carry.

    Inputs are the run store's previews (``repr`` of each value): a shortened or opaque one
    (``…``, ``<file ...>``, a redacted secret) must be edited before it runs.
    """
    options = [f"--project {shlex.quote(record.project)}", f"--domain {shlex.quote(record.domain)}"]
    if record.backend != "local":
        options.append(f"--backend {shlex.quote(record.backend)}")
    if command and command.image:
        options.append(f"--image {shlex.quote(command.image)}")
    arguments = ", ".join(f"{name}={value}" for name, value in record.inputs.items())
    line = f"%flyte_run {' '.join(options)} {record.entity}({arguments})"
    unclear = [
        name
        for name, value in record.inputs.items()
        if "…" in value or "***" in value or value.startswith("<")
    ]
    note = None
    if unclear:
        note = (
            "Edit the value of " + ", ".join(unclear) + " first: the run store keeps a short "
            "preview of each input, not the value."
        )
    return line, note


def notebook_href(notebook: str | None, root_dir: Path | None, base_url: str) -> str | None:
    """``<base_url>lab/tree/<path>`` of a notebook under the server's root, else None."""
    if not notebook or root_dir is None or not notebook.endswith(".ipynb"):
        return None
    path = os.path.abspath(os.path.join(root_dir, notebook))
    root = os.path.abspath(root_dir)
    if os.path.commonpath([path, root]) != root:
        return None
    relative = os.path.relpath(path, root).replace(os.sep, "/")
    return f"/{base_url.strip('/')}/lab/tree/{quote(relative)}".replace("//", "/")


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
