"""What a run page shows beyond the run record: its bundle and its container command.

A local run keeps its files in ``<run_dir>/``: ``command.json`` (the argv, environment and
working folder the supervisor ran, plus ``image`` when the launcher records it), ``work/``
(where ``pyflyte-fast-execute`` downloaded ``fast<digest>.tar.gz`` and extracted it) and, when
the launcher writes it, ``bundle.json`` (digest, files, generated module source, dropped
statements, excluded files as the bundler reported them).

The bundle section comes from the first of: ``bundle.json``; the archive itself (in ``work/``
or in a ``file://`` store), listed without extracting; the files of ``work/``. All of it is
read in a worker thread; no path taken from the record is read outside its folder unchecked.
"""

from __future__ import annotations

import json
import os
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flyte_jupyter.bundle.model import archive_name
from flyte_jupyter.settings.secrets import redact, redact_url

if TYPE_CHECKING:
    from flyte_jupyter.launch.model import RunRecord

MAX_FILES = 1000
MAX_SOURCE = 256 * 1024
MAX_JSON = 8 * 1024 * 1024
MAX_ARCHIVE = 64 * 1024 * 1024  # listing a larger archive costs too long for a page view
_SKIP_DIRS = frozenset({"__pycache__", ".ipynb_checkpoints"})


@dataclass(frozen=True)
class BundleView:
    """The bundle of a run, as far as it is known.

    ``dropped`` and ``excluded`` are None when the run's folder does not record them.
    """

    origin: str
    files: tuple[tuple[str, int], ...]
    more_files: int
    module: str | None
    source: str | None
    dropped: tuple[tuple[str, int, str, str], ...] | None
    excluded: tuple[tuple[str, str], ...] | None


@dataclass(frozen=True)
class CommandView:
    """The container command the run executed (environment values redacted)."""

    argv: tuple[str, ...]
    cwd: str | None
    env: tuple[tuple[str, str], ...]
    image: str | None


@dataclass(frozen=True)
class RunDetails:
    """Everything the page shows that is not in the run record."""

    bundle: BundleView | None
    command: CommandView | None


def gather(record: RunRecord) -> RunDetails:
    """Read the run's folder (blocking: call it in a worker thread)."""
    if not record.run_dir:
        return RunDetails(bundle=None, command=None)
    root = Path(record.run_dir)
    return RunDetails(bundle=_bundle(root, record), command=_command(root))


def _read_json(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_JSON:
            return None
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _command(root: Path) -> CommandView | None:
    data = _read_json(root / "command.json")
    if not isinstance(data, dict):
        return None
    env = data.get("env")
    env = env if isinstance(env, dict) else {}
    argv = data.get("argv")
    argv = argv if isinstance(argv, list) else []
    image = data.get("image")
    return CommandView(
        argv=tuple(_shown(str(a)) for a in argv),
        cwd=str(data["cwd"]) if data.get("cwd") else None,
        env=tuple(sorted((str(k), redact(str(k), v)) for k, v in env.items())),
        image=_shown(str(image)) if image else None,
    )


def _shown(text: str) -> str:
    return redact_url(text) if "://" in text else text


def _bundle(root: Path, record: RunRecord) -> BundleView | None:
    recorded = _read_json(root / "bundle.json")
    if isinstance(recorded, dict):
        return _recorded_bundle(recorded)
    module = _module_of(record.flyte_name)
    archive = _archive(root, record)
    if archive is not None:
        view = _archive_bundle(archive, module)
        if view is not None:
            return view
    work = root / "work"
    if not work.is_dir():
        return None
    files = [f for f in _walk(work) if not _is_archive_name(f[0])]
    return BundleView(
        origin="the run's working folder (where the bundle was extracted)",
        files=tuple(files[:MAX_FILES]),
        more_files=max(0, len(files) - MAX_FILES),
        module=module,
        source=_module_source(work, module) if module else None,
        dropped=None,
        excluded=None,
    )


def _module_of(flyte_name: str) -> str | None:
    """The module of an entity: ``nb_quickstart`` of ``nb_quickstart.square``."""
    module, dot, _ = flyte_name.rpartition(".")
    if not dot or not all(part.isidentifier() for part in module.split(".")):
        return None
    return module


def _is_archive_name(name: str) -> bool:
    return name.startswith("fast") and name.endswith(".tar.gz") and "/" not in name


def _archive(root: Path, record: RunRecord) -> Path | None:
    """The run's bundle archive on this machine: as downloaded into work/, or in a file store."""
    if not record.bundle_digest or not re.fullmatch(r"[0-9a-f]{64}", record.bundle_digest):
        return None
    candidates = [root / "work" / archive_name(record.bundle_digest)]
    if record.bundle_uri and record.bundle_uri.startswith("file://"):
        candidates.append(Path(urlsplit(record.bundle_uri).path))
    return next((c for c in candidates if _small_file(c, MAX_ARCHIVE)), None)


def _small_file(path: Path, limit: int) -> bool:
    try:
        return path.is_file() and path.stat().st_size <= limit
    except OSError:
        return False


def _archive_bundle(archive: Path, module: str | None) -> BundleView | None:
    """List the archive's members (no extraction) and read the generated module from it."""
    wanted = set()
    if module:
        base = module.replace(".", "/")
        wanted = {f"{base}.py", f"{base}/__init__.py"}
    files: list[tuple[str, int]] = []
    source = None
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                files.append((member.name, member.size))
                if source is None and member.name in wanted and member.size <= MAX_SOURCE:
                    handle = tar.extractfile(member)
                    if handle is not None:
                        source = handle.read().decode("utf-8", errors="replace")
    except (OSError, tarfile.TarError, EOFError):
        return None
    files.sort()
    return BundleView(
        origin=f"the bundle archive {archive.name}",
        files=tuple(files[:MAX_FILES]),
        more_files=max(0, len(files) - MAX_FILES),
        module=module,
        source=source,
        dropped=None,
        excluded=None,
    )


def _recorded_bundle(data: dict[str, Any]) -> BundleView:
    files = [
        (str(f.get("path", "")), _int(f.get("size")))
        for f in data.get("files") or []
        if isinstance(f, dict)
    ]
    dropped = [
        (
            str(d.get("cell", "")),
            _int(d.get("line")),
            str(d.get("code", "")),
            str(d.get("reason", "")),
        )
        for d in data.get("dropped") or []
        if isinstance(d, dict)
    ]
    excluded = [
        (str(e.get("path", "")), str(e.get("reason", "")))
        for e in data.get("excluded") or []
        if isinstance(e, dict)
    ]
    source = data.get("source")
    return BundleView(
        origin="bundle.json, as the bundler reported it",
        files=tuple(files[:MAX_FILES]),
        more_files=max(0, len(files) - MAX_FILES),
        module=str(data["module"]) if data.get("module") else None,
        source=str(source)[:MAX_SOURCE] if source else None,
        dropped=tuple(dropped),
        excluded=tuple(excluded),
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _walk(work: Path) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for folder, dirs, names in os.walk(work):  # never follows symlinked folders
        dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
        for name in sorted(names):
            if name.endswith(".pyc"):
                continue
            path = os.path.join(folder, name)
            try:
                size = os.lstat(path).st_size
            except OSError:
                continue
            found.append((Path(os.path.relpath(path, work)).as_posix(), size))
            if len(found) > MAX_FILES:
                return found
    return found


def _module_source(work: Path, module: str) -> str | None:
    """The generated module's text as extracted in ``work`` (never a file outside it)."""
    base = work.resolve()
    for candidate in (
        work.joinpath(*module.split(".")).with_suffix(".py"),
        work.joinpath(*module.split("."), "__init__.py"),
    ):
        try:
            resolved = candidate.resolve()
            if not resolved.is_relative_to(base) or not resolved.is_file():
                continue
            with resolved.open("rb") as handle:
                return handle.read(MAX_SOURCE).decode("utf-8", errors="replace")
        except OSError:
            continue
    return None
