"""Rich HTML for a Bundle: everything escaped, secrets redacted, long lists folded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyte_jupyter._html import escape
from flyte_jupyter.redaction import redact_code, redact_text, redact_url

if TYPE_CHECKING:
    from flyte_jupyter.bundle.model import Bundle

MAX_ROWS = 200


_KIB = 1024


def human_size(n: int) -> str:
    """``532 B``, ``4.2 KiB``, ``12.0 MiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < _KIB:
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= _KIB
    return f"{value:.1f} GiB"


def _rows(items: list[tuple[str, str]]) -> str:
    shown = "".join(
        f"<tr><td><code>{escape(a)}</code></td><td>{escape(b)}</td></tr>"
        for a, b in items[:MAX_ROWS]
    )
    more = len(items) - MAX_ROWS
    if more > 0:
        shown += f"<tr><td colspan=2>… and {more} more</td></tr>"
    return f"<table>{shown}</table>"


def bundle_html(bundle: Bundle) -> str:
    """HTML summary of a bundle with collapsible file, source, dropped and excluded lists."""
    head = [
        ("digest", bundle.digest),
        ("archive", bundle.filename),
        ("files", f"{len(bundle.entries)} ({human_size(bundle.size)})"),
        ("module", bundle.module or "—"),
    ]
    if bundle.uri:
        state = "reused, nothing sent" if bundle.reused else "uploaded"
        head.append(("uri", f"{redact_url(bundle.uri)} ({state})"))
    parts = [f"<div class='flyte-jupyter-bundle'><b>Flyte bundle</b>{_rows(head)}"]
    parts.extend(f"<p>⚠ {escape(w)}</p>" for w in bundle.warnings)
    files = [(e.path, human_size(e.size)) for e in bundle.entries]
    parts.append(f"<details><summary>Files ({len(files)})</summary>{_rows(files)}</details>")
    if bundle.source is not None:
        parts.append(
            f"<details><summary>Generated module {escape(bundle.module)}</summary>"
            f"<pre>{escape(redact_code(bundle.source))}</pre></details>"
        )
    if bundle.dropped:
        dropped = [(f"{d.cell}:{d.line} {redact_text(d.code)}", d.reason) for d in bundle.dropped]
        parts.append(
            f"<details><summary>Dropped statements ({len(dropped)})</summary>"
            f"{_rows(dropped)}</details>"
        )
    if bundle.excluded:
        excluded = [(e.path, e.reason) for e in bundle.excluded]
        parts.append(
            f"<details><summary>Excluded ({len(excluded)})</summary>{_rows(excluded)}</details>"
        )
    parts.append("</div>")
    return "".join(parts)
