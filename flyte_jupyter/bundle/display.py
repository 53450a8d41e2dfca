"""Rich HTML for a Bundle: everything escaped, secrets redacted, long lists folded."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyte_jupyter._html import escape
from flyte_jupyter.redaction import redact_code, redact_text, redact_url

if TYPE_CHECKING:
    from flyte_jupyter.bundle.model import Bundle

MAX_ROWS = 200
# JupyterLab right-aligns table cells and fixes the table layout (equal columns): a name/value
# table then reads ragged. Inline styles (kept by the HTML sanitizer, unlike <style>) set
# left-aligned text, columns as wide as their content and a gap between them.
TABLE_STYLE = "table-layout:auto;border-collapse:collapse;margin:2px 0;width:auto"
CELL_STYLE = "text-align:left;vertical-align:top;padding:1px 16px 1px 0;white-space:normal"


_KIB = 1024


def human_size(n: int) -> str:
    """``532 B``, ``4.2 KiB``, ``12.0 MiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < _KIB:
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= _KIB
    return f"{value:.1f} GiB"


def table_html(
    rows: list[tuple[str, ...]],
    *,
    head: tuple[str, ...] = (),
    code: int = 1,
    limit: int = MAX_ROWS,
    css_class: str = "",
) -> str:
    """A left-aligned table of escaped text; the first ``code`` columns in ``<code>``.

    Rows past ``limit`` are folded into one "… and N more" row.
    """
    cell = f"style='{CELL_STYLE}'"

    def td(i: int, text: str) -> str:
        inner = f"<code>{escape(text)}</code>" if i < code else escape(text)
        return f"<td {cell}>{inner}</td>"

    width = max((len(r) for r in rows), default=len(head)) or 1
    parts = [f"<tr>{''.join(f'<th {cell}>{escape(h)}</th>' for h in head)}</tr>"] if head else []
    parts.extend(f"<tr>{''.join(td(i, t) for i, t in enumerate(r))}</tr>" for r in rows[:limit])
    more = len(rows) - limit
    if more > 0:
        parts.append(f"<tr><td {cell} colspan={width}>… and {more} more</td></tr>")
    klass = f" class='{escape(css_class)}'" if css_class else ""
    return f"<table{klass} style='{TABLE_STYLE}'>{''.join(parts)}</table>"


def _rows(items: list[tuple[str, str]]) -> str:
    return table_html(list(items))


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
