"""The run page's HTML: one self-contained document, every value escaped.

The page carries its style and its small script inline (the script under a per-response CSP
nonce, so nothing injected into the page could run even if escaping were missed). While the
run has not ended, the script follows the log through the logs API and reloads the page when
the status changes.
"""

from __future__ import annotations

import functools
import shlex
import time
from importlib.resources import files
from typing import TYPE_CHECKING

from flyte_jupyter.bundle.model import escape
from flyte_jupyter.launch.liveness import lost_note
from flyte_jupyter.server.service import redact_map

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from flyte_jupyter.launch.model import RunRecord
    from flyte_jupyter.server.details import BundleView, CommandView, RunDetails
    from flyte_jupyter.server.service import LogChunk

_ICONS = {"QUEUED": "◷", "RUNNING": "●", "SUCCEEDED": "✓", "FAILED": "✕", "ABORTED": "■"}


@functools.cache
def _asset(name: str) -> str:
    return files("flyte_jupyter.server").joinpath("static", name).read_text(encoding="utf-8")


def page_html(
    record: RunRecord,
    details: RunDetails,
    log: LogChunk,
    *,
    urls: Mapping[str, str],
    nonce: str,
    xsrf: str,
    poll_interval: float,
    theme: str | None = None,
) -> str:
    """The whole run page.

    Parameters
    ----------
    record
        The run, with its events.
    details
        Its bundle and command, read from the run folder.
    log
        The tail of its log.
    urls
        ``run``, ``logs`` and ``cancel`` API URLs of this run.
    nonce
        The CSP nonce the response's header allows scripts with.
    xsrf
        The XSRF token the cancel button sends.
    poll_interval
        Seconds between refreshes while the run has not ended.
    theme
        ``light`` or ``dark`` to follow JupyterLab's theme; None follows the browser.
    """
    data = {
        "status": record.status,
        "done": "1" if record.done else "0",
        "lost": "1" if lost_note(record) else "0",
        "run-url": urls["run"],
        "logs-url": urls["logs"],
        "cancel-url": urls["cancel"],
        "log-offset": str(log.offset),
        "poll": str(max(0.5, poll_interval)),
        "xsrf": xsrf,
    }
    attrs = " ".join(f'data-{key}="{escape(value)}"' for key, value in data.items())
    body = "".join(
        [
            _header(record),
            _summary(record),
            _values("Inputs", redact_map(record.inputs), "no inputs"),
            _outputs(record),
            _timeline(record),
            _logs(log),
            _bundle(record, details.bundle),
            _serialization(details.command),
        ]
    )
    return (
        f"<!DOCTYPE html><html lang='en'{_theme_attr(theme)}><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(record.status.lower())} · {escape(record.flyte_name)} · Flyte run</title>"
        f"<style>{_asset('run.css')}</style></head>"
        f"<body {attrs}><main>{body}</main>"
        f"<script nonce='{escape(nonce)}'>{_asset('run.js')}</script></body></html>"
    )


def _theme_attr(theme: str | None) -> str:
    return f" data-theme='{theme}'" if theme in ("light", "dark") else ""


def error_html(status_code: int, message: str) -> str:
    """A small page for errors (unknown run, bad id): the message only, never a traceback."""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{status_code} · Flyte run</title><style>{_asset('run.css')}</style></head>"
        f"<body><main><h1>{status_code}</h1><p class='fj-error'>{escape(message)}</p>"
        "</main></body></html>"
    )


def _badge(status: str) -> str:
    icon = _ICONS.get(status, "?")
    return f"<span class='fj-badge fj-{escape(status.lower())}'>{icon} {escape(status)}</span>"


def _header(record: RunRecord) -> str:
    console = ""
    if record.backend != "local" and record.url:
        console = (
            f"<a class='fj-button' href='{escape(_safe_href(record.url))}' target='_blank' "
            "rel='noopener noreferrer'>Open in the Flyte console ↗</a>"
        )
    cancel = "" if record.done else "<button id='fj-cancel' class='fj-button'>Cancel run</button>"
    note = lost_note(record)
    lost = f"<p class='fj-sub fj-lost'>{escape(note)}</p>" if note else ""
    return (
        "<header>"
        f"<div class='fj-title'>{_badge(record.status)}<h1>{escape(record.flyte_name)}</h1></div>"
        f"<div class='fj-actions'>{console}{cancel}</div>"
        f"<p class='fj-sub'>{escape(record.kind)} run <code>{escape(record.id)}</code> on the "
        f"{escape(record.backend)} backend</p>{lost}"
        "</header>"
    )


def _safe_href(url: str) -> str:
    """Only http(s) links are clickable; anything else (javascript:, data:) becomes '#'."""
    from flyte_jupyter.redaction import redact_url

    return redact_url(url) if url.lower().startswith(("https://", "http://")) else "#"


def _when(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)  # clocks of different processes may disagree a little
    if seconds < 60:  # noqa: PLR2004 - one minute
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {secs} s"


def _table(rows: Iterable[tuple[str, str]], cls: str = "fj-kv") -> str:
    cells = "".join(f"<tr><th>{key}</th><td>{value}</td></tr>" for key, value in rows)
    return f"<table class='{cls}'>{cells}</table>"


def _summary(record: RunRecord) -> str:
    from flyte_jupyter.redaction import redact_url

    end = record.updated_at if record.done else time.time()
    rows = [
        ("Entity", f"<code>{escape(record.flyte_name)}</code> ({escape(record.kind)})"),
        ("Project / domain", f"{escape(record.project)} / {escape(record.domain)}"),
        ("Version", f"<code>{escape(record.version)}</code>"),
        ("Created", escape(_when(record.created_at))),
        ("Duration" if record.done else "Running for", escape(_duration(end - record.created_at))),
    ]
    if record.notebook:
        rows.append(("Notebook", f"<code>{escape(record.notebook)}</code>"))
    if record.bundle_digest:
        rows.append(("Bundle digest", f"<code>{escape(record.bundle_digest)}</code>"))
    if record.bundle_uri:
        rows.append(("Bundle URI", f"<code>{escape(redact_url(record.bundle_uri))}</code>"))
    if record.remote_id:
        rows.append(("Execution", f"<code>{escape(record.remote_id)}</code>"))
    return f"<section><h2>Run</h2>{_table(rows)}</section>"


def _values(title: str, values: Mapping[str, str], empty: str) -> str:
    if not values:
        return f"<section><h2>{escape(title)}</h2><p class='fj-muted'>{escape(empty)}</p></section>"
    rows = [(f"<code>{escape(k)}</code>", f"<pre>{escape(v)}</pre>") for k, v in values.items()]
    return f"<section><h2>{escape(title)}</h2>{_table(rows, 'fj-kv fj-values')}</section>"


def _outputs(record: RunRecord) -> str:
    if record.error:
        return (
            "<section><h2>Error</h2>"
            f"<pre class='fj-error'>{escape(record.error[-20000:])}</pre></section>"
        )
    if record.outputs is None:
        what = "no outputs" if record.done else "outputs appear when the run succeeds"
        return _values("Outputs", {}, what)
    return _values("Outputs", redact_map(record.outputs), "no outputs")


def _timeline(record: RunRecord) -> str:
    if not record.events:
        return ""
    rows = "".join(
        f"<tr><td>{_badge(status)}</td><td>{escape(_when(at))}</td>"
        f"<td class='fj-muted'>+{escape(_duration(at - record.created_at))}</td>"
        f"<td>{escape(message)}</td></tr>"
        for at, status, message in record.events
    )
    return f"<section><h2>Timeline</h2><table class='fj-timeline'>{rows}</table></section>"


def _logs(log: LogChunk) -> str:
    if log.refused:
        return f"<section><h2>Logs</h2><p class='fj-error'>{escape(log.refused)}</p></section>"
    if not log.available:
        return "<section><h2>Logs</h2><p class='fj-muted'>No log file for this run.</p></section>"
    note = (
        f"<p class='fj-muted'>The last {log.offset - log.start} of {log.size} bytes.</p>"
        if log.start > 0
        else ""
    )
    return (
        f"<section><h2>Logs</h2>{note}<pre id='fj-log' class='fj-log'>{escape(log.text)}</pre>"
        "</section>"
    )


def _bundle(record: RunRecord, view: BundleView | None) -> str:
    if view is None:
        what = (
            "No bundle: copy style none ships no code."
            if not record.bundle_digest
            else "The bundle's files are not on this machine."
        )
        return f"<section><h2>Bundle</h2><p class='fj-muted'>{escape(what)}</p></section>"
    files_rows = "".join(
        f"<tr><td><code>{escape(path)}</code></td><td class='fj-num'>{size:,} B</td></tr>"
        for path, size in view.files
    )
    more = f"<p class='fj-muted'>… and {view.more_files} more.</p>" if view.more_files else ""
    parts = [
        "<section><h2>Bundle</h2>",
        f"<p class='fj-muted'>From {escape(view.origin)}.</p>",
        f"<p>Digest <code>{escape(record.bundle_digest or 'unknown')}</code></p>",
        (
            f"<details open><summary>Files ({len(view.files) + view.more_files})</summary>"
            f"<table class='fj-files'>{files_rows}</table>{more}</details>"
        ),
    ]
    if view.source is not None:
        parts.append(
            f"<details open><summary>Generated module <code>{escape(view.module)}</code>"
            f"</summary><pre class='fj-source'>{escape(view.source)}</pre></details>"
        )
    parts.append(_dropped(view))
    parts.append(_excluded(view))
    parts.append("</section>")
    return "".join(parts)


def _dropped(view: BundleView) -> str:
    if view.dropped is None:
        return "<h3>Dropped statements</h3><p class='fj-muted'>Not recorded for this run.</p>"
    if not view.dropped:
        return "<h3>Dropped statements</h3><p class='fj-muted'>None.</p>"
    rows = "".join(
        f"<tr><td>{escape(cell)}, line {line}</td><td><code>{escape(code)}</code></td>"
        f"<td>{escape(reason)}</td></tr>"
        for cell, line, code, reason in view.dropped
    )
    return f"<h3>Dropped statements</h3><table class='fj-list'>{rows}</table>"


def _excluded(view: BundleView) -> str:
    if view.excluded is None:
        return "<h3>Excluded files</h3><p class='fj-muted'>Not recorded for this run.</p>"
    if not view.excluded:
        return "<h3>Excluded files</h3><p class='fj-muted'>None.</p>"
    rows = "".join(
        f"<tr><td><code>{escape(path)}</code></td><td>{escape(reason)}</td></tr>"
        for path, reason in view.excluded
    )
    return f"<h3>Excluded files</h3><table class='fj-list'>{rows}</table>"


def _serialization(command: CommandView | None) -> str:
    if command is None:
        return (
            "<section><h2>Serialization</h2>"
            "<p class='fj-muted'>No container command recorded for this run.</p></section>"
        )
    image = (
        f"<code>{escape(command.image)}</code>"
        if command.image
        else "<span class='fj-muted'>not recorded</span>"
    )
    argv = escape(" \\\n    ".join(shlex.quote(arg) for arg in command.argv))
    env_rows = "".join(
        f"<tr><th><code>{escape(k)}</code></th><td><code>{escape(v)}</code></td></tr>"
        for k, v in command.env
    )
    cwd = f"<p>Working folder <code>{escape(command.cwd)}</code></p>" if command.cwd else ""
    return (
        "<section><h2>Serialization</h2>"
        f"<p>Image {image}</p>"
        f"<h3>Container command</h3><pre class='fj-source'>{argv}</pre>{cwd}"
        f"<details><summary>Environment ({len(command.env)} variables, secrets redacted)"
        f"</summary><table class='fj-kv fj-env'>{env_rows}</table></details>"
        "</section>"
    )
