"""Bundle preview: what a run would ship, and whether the store already has it. No upload.

The bundle is built with ``prepare_bundle`` (the same call every front end makes; archives are
cached by content, so an unchanged notebook costs a ``stat`` per file). Reuse is a question
to the store (``BundleStore.exists``: one existence check, in the background thread).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from flyte_jupyter._html import escape
from flyte_jupyter.bundle.display import table_html
from flyte_jupyter.errors import StoreError
from flyte_jupyter.prepare import would_be_uri
from flyte_jupyter.redaction import redact_code, redact_text, redact_url
from flyte_jupyter.store.dataproxy import FLYTE_STORE
from flyte_jupyter.widgets.background import BackgroundView
from flyte_jupyter.widgets.common import (
    STYLE,
    human_size,
    muted,
)

if TYPE_CHECKING:
    from flyte_jupyter.bundle import Bundle, ManifestEntry
    from flyte_jupyter.prepare import BundleJob
    from flyte_jupyter.settings import Settings
    from flyte_jupyter.widgets.state import PanelState

ALL = ""
_OPEN_BELOW = 60  # files: folders start unfolded in smaller bundles
_MAX_LIST = 300


@dataclass(frozen=True)
class PreviewJob:
    """What to bundle, taken from the kernel on the main thread."""

    settings: Settings
    job: BundleJob


@dataclass(frozen=True)
class Preview:
    """A built (not uploaded) bundle, where it would go, and whether the store has it."""

    bundle: Bundle | None
    uri: str | None = None
    reuse: bool | None = None
    note: str = ""


def compute(job: PreviewJob) -> Preview:
    """Build the bundle and ask the store whether it already holds it."""
    from flyte_jupyter.prepare import bucket_store_for, prepare_bundle

    settings = job.settings
    bundle = prepare_bundle(job.job)
    if bundle is None:
        return Preview(None, note="copy style 'none': nothing is bundled; the code is in the image")
    uri = would_be_uri(settings, bundle.digest)
    if settings.store == FLYTE_STORE:
        return Preview(bundle, uri, None, "the Flyte data proxy decides at upload")
    try:
        reuse = bucket_store_for(settings).exists(bundle.digest)
    except StoreError as exc:
        return Preview(bundle, uri, None, f"cannot ask the store: {exc}")
    return Preview(bundle, uri, reuse)


def tree_html(entries: tuple[ManifestEntry, ...]) -> str:
    """The files as a folder tree (``<details>`` per folder, named ``dir/``) with sizes.

    No emoji icons: a browser without an emoji font (headless Chromium, many Linux desktops)
    draws them as empty boxes; the disclosure triangle and the trailing ``/`` mark folders.
    """
    root: dict[str, Any] = {}
    for entry in entries:
        *folders, name = entry.path.split("/")
        node = root
        for folder in folders:
            node = node.setdefault(folder + "/", {})
        node[name] = entry.size
    opened = " open" if len(entries) <= _OPEN_BELOW else ""

    def total(node: dict[str, Any]) -> int:
        return sum(total(v) if isinstance(v, dict) else v for v in node.values())

    def render(node: dict[str, Any]) -> str:
        folders = sorted(k for k, v in node.items() if isinstance(v, dict))
        files = sorted(k for k, v in node.items() if not isinstance(v, dict))
        out = [
            f"<details{opened}><summary><code>{escape(k)}</code> "
            f"{muted(human_size(total(node[k])))}</summary>"
            f"<div style='margin-left:18px'>{render(node[k])}</div></details>"
            for k in folders
        ]
        out.extend(
            f"<div style='margin-left:14px'><code>{escape(k)}</code> "
            f"{muted(human_size(node[k]))}</div>"
            for k in files
        )
        return "".join(out)

    return f"<div class='flyte-jupyter-tree'>{render(root)}</div>"


def _rows(items: list[tuple[str, str]]) -> str:
    return table_html(list(items), limit=_MAX_LIST)


def reuse_html(preview: Preview) -> str:
    """Whether a run would upload the archive."""
    bundle = preview.bundle
    if bundle is None or preview.reuse is None:
        return muted(f"reuse unknown: {preview.note}")
    if preview.reuse:
        return "<span style='color:#1a7f37'>✓ reuse: the store has it; a run uploads nothing</span>"
    return (
        "<span style='color:#9a6700'>not in the store yet: a run uploads "
        f"{escape(human_size(bundle.archive_size))}</span>"
    )


def preview_html(preview: Preview) -> str:
    """The preview: summary, reuse, file tree, module source, dropped and excluded."""
    bundle = preview.bundle
    if bundle is None:
        return muted(preview.note)
    head = [
        ("digest", bundle.digest),
        ("archive", f"{bundle.filename} ({human_size(bundle.archive_size)})"),
        ("files", f"{len(bundle.entries)} ({human_size(bundle.size)} uncompressed)"),
        ("module", bundle.module or "—"),
        ("store URI", redact_url(preview.uri) if preview.uri else "—"),
    ]
    parts = [
        "<div class='flyte-jupyter-preview'>",
        _rows(head),
        f"<p>{reuse_html(preview)}</p>",
        *(f"<p>⚠ {escape(text)}</p>" for text in bundle.warnings),
        (
            f"<details open><summary><b>Files</b> ({len(bundle.entries)})</summary>"
            f"{tree_html(bundle.entries)}</details>"
        ),
    ]
    if bundle.source is not None:
        parts.append(
            f"<details><summary><b>Generated module</b> <code>{escape(bundle.module)}</code>"
            f"</summary><pre>{escape(redact_code(bundle.source))}</pre></details>"
        )
    # d.cell is already the cell's label ("cell [4]")
    dropped = [(f"{d.cell}:{d.line}  {redact_text(d.code)}", d.reason) for d in bundle.dropped]
    parts.append(
        f"<details><summary><b>Dropped statements</b> ({len(dropped)})</summary>"
        f"{_rows(dropped) if dropped else muted('none')}</details>"
    )
    excluded = [(e.path, e.reason) for e in bundle.excluded]
    parts.append(
        f"<details><summary><b>Excluded files</b> ({len(excluded)})</summary>"
        f"{_rows(excluded) if excluded else muted('none')}</details>"
    )
    parts.append("</div>")
    return "".join(parts)


class PreviewSection(BackgroundView["Preview"]):
    """Entity picker (or all of them, like ``%flyte_bundle``), Rebuild, and the preview."""

    busy = "bundling…"

    def __init__(self, state: PanelState) -> None:
        entity = w.Dropdown(
            description="Bundle for",
            options=[("all tasks and workflows", ALL)],
            value=ALL,
            tooltip="A run ships the code its task or workflow needs",
            style=STYLE,
            layout=w.Layout(width="420px"),
        )
        self.rebuild = w.Button(description="Rebuild", icon="refresh", tooltip="Build it again")
        self.rebuild.on_click(lambda _b: self.update())
        super().__init__(state, entity, compute, extra=(self.rebuild,))

    @property
    def preview(self) -> Preview | None:
        """The preview shown last."""
        return self.result

    def set_entities(self, entities: list[tuple[str, str]]) -> None:
        """Offer these ``(name, kind)`` entities, after "all tasks and workflows"."""
        self.offer(entities, (("all tasks and workflows", ALL),))

    def make_job(self, settings: Settings) -> PreviewJob:
        """The bundle job of the chosen entity (all of them for ALL)."""
        names = [self.entity.value] if self.entity.value else []
        job, _ = self.state.job(settings, names)
        return PreviewJob(settings, job)

    def render(self, result: Preview) -> str:
        """The preview as HTML."""
        return preview_html(result)
