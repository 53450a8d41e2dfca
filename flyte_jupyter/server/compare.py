"""Two runs side by side: what changed in the code, the settings and the inputs.

``<base_url>flyte-jupyter/compare?a=<id>&b=<id>`` (``a`` the older run). The code is compared
as two unified diffs: the bundles' manifests (path, mode, size and sha256 of every file, from
each run's ``bundle.json``; the file list otherwise) and the generated modules. Settings are
the record's (project, domain, version, backend, SDK, bundle digest, how it ran) and the
container command's (image, and the variables the run added to the environment, redacted).
Everything comes from the same redacted sources as the run page (:mod:`.details`), read in a
worker thread.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flyte_jupyter.server.details import gather, read_json, run_folder
from flyte_jupyter.server.service import shown_record
from flyte_jupyter.settings.local_runs import run_mode

if TYPE_CHECKING:
    from collections.abc import Mapping

    from flyte_jupyter.launch.model import RunRecord
    from flyte_jupyter.server.details import RunDetails
    from flyte_jupyter.server.service import RunService

MAX_DIFF_LINES = 5000


@dataclass(frozen=True)
class Row:
    """One compared value: its name, both sides (None: absent) and whether they differ."""

    name: str
    a: str | None
    b: str | None

    @property
    def changed(self) -> bool:
        """True when the two sides differ."""
        return self.a != self.b


@dataclass(frozen=True)
class Diff:
    """A unified diff as ``(kind, text)`` lines: ``add``, ``del``, ``hunk``, ``head`` or ``""``."""

    title: str
    lines: tuple[tuple[str, str], ...]
    cut: bool
    note: str | None = None

    @property
    def same(self) -> bool:
        """True when there is nothing to show."""
        return not self.lines and self.note is None


@dataclass(frozen=True)
class Comparison:
    """Everything ``compare.html`` shows of two runs."""

    a: RunRecord
    b: RunRecord
    same_entity: bool
    code: tuple[Diff, ...]
    settings: tuple[Row, ...]
    environment: tuple[Row, ...]
    inputs: tuple[Row, ...]
    outputs: tuple[Row, ...]


def compare(service: RunService, a: RunRecord, b: RunRecord) -> Comparison:
    """Compare two runs (blocking: call it in a worker thread)."""
    sides = []
    for record in (a, b):
        redactor = service.redactor_for(record)
        details = gather(record, service.home, redactor)
        sides.append((shown_record(record, redactor), details, _manifest(record, service, details)))
    (ra, da, ma), (rb, db, mb) = sides
    source_a = da.bundle.source if da.bundle else None
    source_b = db.bundle.source if db.bundle else None
    module = (da.bundle.module if da.bundle else None) or "module"
    return Comparison(
        a=ra,
        b=rb,
        same_entity=ra.flyte_name == rb.flyte_name,
        code=(
            _diff("Bundle manifest", ma, mb, ra.id, rb.id),
            _diff(f"Generated module {module}", _lines(source_a), _lines(source_b), ra.id, rb.id),
        ),
        settings=_settings(ra, da, rb, db),
        environment=_rows(_env(da), _env(db)),
        inputs=_rows(ra.inputs, rb.inputs),
        outputs=_rows(ra.outputs or {}, rb.outputs or {}),
    )


def _manifest(record: RunRecord, service: RunService, details: RunDetails) -> list[str] | None:
    """The bundle's manifest lines (``path mode size sha256``), or its files with sizes."""
    root = run_folder(record, service.home)
    recorded = read_json(root, "bundle.json") if root else None
    files = recorded.get("files") if isinstance(recorded, dict) else None
    if isinstance(files, list):
        return sorted(_manifest_line(f) for f in files if isinstance(f, dict))
    if details.bundle is None:
        return None
    return [f"{path}  size {size}" for path, size in details.bundle.files]


def _manifest_line(entry: Mapping[str, Any]) -> str:
    return "  ".join(
        str(entry.get(key, "?")) for key in ("path", "mode", "size", "sha256") if key in entry
    )


def _lines(text: str | None) -> list[str] | None:
    return None if text is None else text.splitlines()


def _diff(title: str, a: list[str] | None, b: list[str] | None, a_id: str, b_id: str) -> Diff:
    if a is None or b is None:
        missing = " and ".join(i for i, side in ((a_id, a), (b_id, b)) if side is None)
        return Diff(title, (), cut=False, note=f"Not recorded for {missing}.")
    lines: list[tuple[str, str]] = []
    for line in difflib.unified_diff(a, b, fromfile=a_id, tofile=b_id, lineterm=""):
        if len(lines) >= MAX_DIFF_LINES:
            return Diff(title, tuple(lines), cut=True)
        lines.append((_kind(line), line))
    return Diff(title, tuple(lines), cut=False)


def _kind(line: str) -> str:
    if line.startswith(("+++", "---")):
        return "head"
    if line.startswith("@@"):
        return "hunk"
    return {"+": "add", "-": "del"}.get(line[:1], "")


def _settings(a: RunRecord, da: RunDetails, b: RunRecord, db: RunDetails) -> tuple[Row, ...]:
    def values(record: RunRecord, details: RunDetails) -> dict[str, str | None]:
        mode = run_mode(record.extra, sdk=record.sdk, kind=record.kind)
        return {
            "Entity": f"{record.flyte_name} ({record.kind})",
            "Status": record.status,
            "SDK": record.sdk,
            "Backend": record.backend,
            "Project": record.project,
            "Domain": record.domain,
            "Version": record.version,
            "Image": details.command.image if details.command else None,
            "Bundle digest": record.bundle_digest,
            "Ran": mode.text if mode else None,
            "Notebook": record.notebook,
        }

    left, right = values(a, da), values(b, db)
    return tuple(Row(name, left[name], right[name]) for name in left)


def _env(details: RunDetails) -> dict[str, str]:
    return dict(details.command.env) if details.command else {}


def _rows(a: Mapping[str, str], b: Mapping[str, str]) -> tuple[Row, ...]:
    names = list(a) + [n for n in b if n not in a]
    return tuple(Row(name, a.get(name), b.get(name)) for name in names)
