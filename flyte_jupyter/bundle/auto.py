"""Copy style ``auto``: the generated module and the local modules it needs.

That is the generated module, the local modules loaded in the kernel, the local modules their
code imports (lazily or not), and the ``__init__.py`` files of their packages. Every probe of
the file system is recorded first (see :mod:`.probes`).
"""

from __future__ import annotations

import os
import sys
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING

from flyte_jupyter.bundle.imports import imported_names, module_file, module_name
from flyte_jupyter.bundle.model import Excluded, FileRef
from flyte_jupyter.errors import IgnoredModuleError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from flyte_jupyter.bundle.model import BundleRequest
    from flyte_jupyter.bundle.walk import Walker


def select_auto(request: BundleRequest, walker: Walker) -> dict[str, FileRef]:
    """Generated module + local modules loaded in the kernel + local modules imported in code."""
    files: dict[str, FileRef] = {}
    for path in sorted(local_files(request.loaded_modules, walker)):
        arc, reason = walker.check(path)
        if reason:
            walker.excluded.append(Excluded(arc, reason))
        else:
            files[arc] = FileRef(arc, str(path))
    pending = []
    if request.module is not None:
        pending.append((request.module.name, False, request.module.source, request.module.name))
    pending.extend(_sources(files, walker))
    seen: set[str] = set()
    while pending:
        name, is_pkg, source, needed_by = pending.pop()
        for imported in sorted(imported_names(source, name, is_package=is_pkg)):
            if imported in seen:
                continue
            seen.add(imported)
            found = _local_module(imported, walker, needed_by)
            if found and found.arcname not in files:
                files[found.arcname] = found
                pending.extend(_sources({found.arcname: found}, walker))
    _add_package_inits(files, walker)
    return files


def _local_module(name: str, walker: Walker, needed_by: str) -> FileRef | None:
    base = walker.bundle_root.joinpath(*name.split("."))
    walker.probes.folder(str(base.parent))  # holds <name>.py
    walker.probes.folder(str(base))  # holds <name>/__init__.py
    path = module_file(name, walker.bundle_root)
    if path is None or not is_under(path, walker.root_dir):
        return None
    arc, reason = walker.check(path)
    if reason:
        msg = (
            f"module {name!r} ({arc}), imported by {needed_by}, is excluded: {reason}. "
            "Remove the rule, add the file to include_secrets, or move the module."
        )
        raise IgnoredModuleError(msg)
    return FileRef(arc, str(path))


def _sources(files: Mapping[str, FileRef], walker: Walker) -> Iterator[tuple[str, bool, str, str]]:
    for arc, ref in files.items():
        if arc.endswith(".py") and ref.path is not None:
            name, is_pkg = module_name(arc)
            walker.probes.content(ref.path)
            try:
                text = Path(ref.path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            yield name, is_pkg, text, arc


def _add_package_inits(files: dict[str, FileRef], walker: Walker) -> None:
    for arc in list(files):
        parts = arc.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            init = "/".join([*parts[:depth], "__init__.py"])
            path = walker.bundle_root / init
            walker.probes.folder(str(path.parent))
            if init not in files and path.is_file():
                files[init] = FileRef(init, str(path))


def local_files(loaded: Mapping[str, str], walker: Walker) -> set[Path]:
    """Files of loaded modules that live under root_dir and outside any environment."""
    root_dir = walker.root_dir
    env_roots = environment_roots()
    prefix = os.path.join(os.path.abspath(root_dir), "")
    out = set()
    for file in loaded.values():
        if not file.startswith(prefix):  # cheap string test first: sys.modules is large
            continue
        path = Path(file)
        walker.probes.folder(str(path.parent))
        if not path.is_file():
            continue
        if not is_under(path, root_dir) or any(is_under(path, Path(e)) for e in env_roots):
            continue
        if "site-packages" in path.parts or "dist-packages" in path.parts:
            continue
        out.add(path)
    return out


def environment_roots() -> set[str]:
    """Folders of the Python environment: modules there are never local."""
    return {sys.prefix, sys.base_prefix, *sysconfig.get_paths().values()}


def is_under(path: Path, folder: Path) -> bool:
    """True when ``path`` is ``folder`` or inside it (lexically, symlinks not resolved)."""
    try:
        Path(os.path.abspath(path)).relative_to(os.path.abspath(folder))
    except ValueError:
        return False
    return True
