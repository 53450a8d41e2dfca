"""What a run page shows beyond the run record: its bundle and its container command.

A local run keeps its files in ``<run_dir>/``: ``command.json`` (the argv, environment and
working folder the supervisor ran, plus ``image`` when the launcher records it), ``work/``
(where ``pyflyte-fast-execute`` downloaded ``fast<digest>.tar.gz`` and extracted it) and, when
the launcher writes it, ``bundle.json`` (digest, files, generated module source, dropped
statements, excluded files as the bundler reported them).

The bundle section comes from the first of: ``bundle.json``; the archive itself (in ``work/``
or in a ``file://`` bundle store), listed without extracting; the files of ``work/``. All of it is
read in a worker thread. The run's own code can write in its folder, so every file there is
read through :func:`flyte_jupyter._private.open_inside` (no symlink followed, no hard link
read), and only when the folder is ``<home>/runs/<id>`` of the server's home. Everything
shown is redacted (:class:`flyte_jupyter.redaction.Redactor`).
"""

from __future__ import annotations

import json
import os
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flyte_jupyter._private import open_inside
from flyte_jupyter.bundle.model import archive_name
from flyte_jupyter.capture.origins import CellOrigins
from flyte_jupyter.redaction import Redactor
from flyte_jupyter.server.cellmap import CellMap, cell_map

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
    cells: CellMap = field(default_factory=lambda: CellMap(module=None))


def gather(record: RunRecord, home: Path, redactor: Redactor | None = None) -> RunDetails:
    """Read the run's folder (blocking: call it in a worker thread)."""
    root = run_folder(record, home)
    origins = CellOrigins.from_extra(record.extra)
    if root is None:
        return RunDetails(bundle=None, command=None, cells=_cells(record, None, None, origins))
    redactor = redactor or Redactor()
    bundle = _bundle(root, record, redactor)
    return RunDetails(
        bundle=bundle,
        command=_command(root, redactor),
        cells=_cells(
            record, bundle.module if bundle else None, bundle.source if bundle else None, origins
        ),
    )


def _cells(
    record: RunRecord, module: str | None, source: str | None, origins: CellOrigins | None
) -> CellMap:
    """The cell map of the run's module: the line table the run records (``extra``)."""
    if origins is not None:
        module = origins.file.removesuffix(".py")
    return cell_map(
        module or _module_of(record.flyte_name), source, origins.lines if origins else ()
    )


def cells_of(record: RunRecord) -> CellMap:
    """The run's cell map without reading its bundle (for the log follower: cheap to repeat).

    Without the line table, frames link to module lines the page already shows.
    """
    origins = CellOrigins.from_extra(record.extra)
    return _cells(record, None, None, origins)


def run_folder(record: RunRecord, home: Path) -> Path | None:
    """The run's folder if it is ``<home>/runs/<id>`` (a record pointing elsewhere: None)."""
    if not record.run_dir:
        return None
    root = Path(os.path.abspath(record.run_dir))
    return root if root == Path(os.path.abspath(home / "runs" / record.id)) else None


def recorded_env(record: RunRecord, home: Path) -> dict[str, str]:
    """The environment the run's ``command.json`` records (values as written there)."""
    root = run_folder(record, home)
    data = read_json(root, "command.json") if root else None
    env = data.get("env") if isinstance(data, dict) else None
    return {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {}


def _open(root: Path, *parts: str) -> IO[bytes]:
    """A file of the run's folder, never through a symlink or a hard link (see module doc)."""
    return open_inside(root.parent, root.joinpath(*parts))


def read_json(root: Path, name: str) -> Any:
    """A JSON file of the run's folder (see :func:`_open`), or None if absent or malformed."""
    try:
        with _open(root, name) as handle:
            raw = handle.read(MAX_JSON + 1)
        return json.loads(raw.decode("utf-8")) if len(raw) <= MAX_JSON else None
    except (OSError, ValueError):
        return None


def _command(root: Path, redactor: Redactor) -> CommandView | None:
    data = read_json(root, "command.json")
    if not isinstance(data, dict):
        return None
    env = data.get("env")
    env = env if isinstance(env, dict) else {}
    argv = data.get("argv")
    argv = argv if isinstance(argv, list) else []
    image = data.get("image")
    return CommandView(
        argv=tuple(redactor.text(str(a)) for a in argv),
        cwd=str(data["cwd"]) if data.get("cwd") else None,
        env=tuple(sorted((str(k), redactor.value(str(k), v)) for k, v in env.items())),
        image=redactor.text(str(image)) if image else None,
    )


def _bundle(root: Path, record: RunRecord, redactor: Redactor) -> BundleView | None:
    recorded = read_json(root, "bundle.json")
    if isinstance(recorded, dict):
        return _recorded_bundle(recorded, redactor)
    module = _module_of(record.flyte_name)
    archive = _archive(root, record)
    if archive is not None:
        name, handle = archive
        with handle:
            view = _archive_bundle(name, handle, module, redactor)
        if view is not None:
            return view
    work = root / "work"
    if root.is_symlink() or work.is_symlink() or not work.is_dir():  # never list elsewhere
        return None
    files = [(path, size) for path, size in _walk(work) if not _is_archive_name(path)]
    source = _module_source(root, module) if module else None
    return BundleView(
        origin="the run's working folder (where the bundle was extracted)",
        files=tuple(files[:MAX_FILES]),
        more_files=max(0, len(files) - MAX_FILES),
        module=module,
        source=redactor.code(source) if source is not None else None,
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


def _archive(root: Path, record: RunRecord) -> tuple[str, IO[bytes]] | None:
    """The run's bundle archive on this machine: as downloaded into work/, or in a file:// store.

    Returns its name and an open handle (the caller closes it).
    """
    if not record.bundle_digest or not re.fullmatch(r"[0-9a-f]{64}", record.bundle_digest):
        return None
    name = archive_name(record.bundle_digest)
    handle: IO[bytes] | None = None
    try:
        handle = _open(root, "work", name)
    except OSError:
        if record.bundle_uri and record.bundle_uri.startswith("file://"):
            # the configured bundle store, outside the run's folder: the run cannot plant it
            handle = _open_file(Path(urlsplit(record.bundle_uri).path))
    if handle is None:
        return None
    if os.fstat(handle.fileno()).st_size > MAX_ARCHIVE:
        handle.close()
        return None
    return name, handle


def _open_file(path: Path) -> IO[bytes] | None:
    try:
        return path.open("rb") if path.is_file() else None
    except OSError:
        return None


def _archive_bundle(
    name: str, archive: IO[bytes], module: str | None, redactor: Redactor
) -> BundleView | None:
    """List the archive's members (no extraction) and read the generated module from it."""
    wanted = set()
    if module:
        base = module.replace(".", "/")
        wanted = {f"{base}.py", f"{base}/__init__.py"}
    files: list[tuple[str, int]] = []
    source = None
    try:
        with tarfile.open(fileobj=archive, mode="r:gz") as tar:
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
        origin=f"the bundle archive {name}",
        files=tuple(files[:MAX_FILES]),
        more_files=max(0, len(files) - MAX_FILES),
        module=module,
        source=redactor.code(source) if source is not None else None,
        dropped=None,
        excluded=None,
    )


def _recorded_bundle(data: dict[str, Any], redactor: Redactor) -> BundleView:
    files = [
        (str(f.get("path", "")), _int(f.get("size")))
        for f in data.get("files") or []
        if isinstance(f, dict)
    ]
    dropped = [
        (
            str(d.get("cell", "")),
            _int(d.get("line")),
            redactor.text(str(d.get("code", ""))),
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
        source=redactor.code(str(source)[:MAX_SOURCE]) if source else None,
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


def _module_source(root: Path, module: str) -> str | None:
    """The generated module's text as extracted in ``work/`` (never a file outside it)."""
    parts = module.split(".")
    for candidate in ((*parts[:-1], parts[-1] + ".py"), (*parts, "__init__.py")):
        source = _read_text(root, "work", *candidate)
        if source is not None:
            return source
    return None


def _read_text(root: Path, *parts: str) -> str | None:
    try:
        with _open(root, *parts) as handle:
            return handle.read(MAX_SOURCE).decode("utf-8", errors="replace")
    except OSError:
        return None
