"""Select the files of a bundle for each copy style.

Arcnames are POSIX paths relative to the *bundle root*: the first folder at or above
``root_dir`` without an ``__init__.py``. flytekit derives a module's name by walking up
``__init__.py`` folders, so rooting the archive there makes the names it computes at
serialization exist in the archive.

Every folder listing and every file content the selection consults is recorded in
:class:`~flyte_jupyter.bundle.probes.Probes` first, so an unchanged tree can be recognised
later without walking it again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING

from flyte_jupyter.bundle.ignore import IGNORE_FILES, OUTPUT_MARKER, IgnoreRules
from flyte_jupyter.bundle.model import Excluded, FileRef
from flyte_jupyter.bundle.probes import Probes
from flyte_jupyter.errors import BundleError

if TYPE_CHECKING:
    from flyte_jupyter.bundle.model import BundleRequest, PrivateDir

_by_name = attrgetter("name")


@dataclass(frozen=True)
class Selection:
    """What the walk chose, what it kept out, and what it consulted on disk."""

    bundle_root: Path
    files: tuple[FileRef, ...]
    excluded: tuple[Excluded, ...]
    probes: Probes = field(default_factory=Probes, compare=False)


def bundle_root_for(root_dir: Path, probes: Probes | None = None) -> Path:
    """The first folder at or above ``root_dir`` that is not a package."""
    root = root_dir
    while True:
        if probes is not None:
            probes.folder(str(root))
        if not (root / "__init__.py").exists() or root.parent == root:
            return root
        root = root.parent


def select(request: BundleRequest) -> Selection:
    """Choose the files for ``request`` (copy style ``auto`` or ``all``)."""
    probes = Probes()
    root_dir = _checked_root(request.root_dir)
    bundle_root = bundle_root_for(root_dir, probes)
    rules = IgnoreRules(include=request.include, private=_private(root_dir, request.private_dirs))
    walker = Walker(root_dir, bundle_root, rules, probes)
    if request.copy_style == "all":
        files = {ref.arcname: ref for ref in walker.walk_all()}
    elif request.copy_style == "auto":
        from flyte_jupyter.bundle.auto import select_auto

        files = select_auto(request, walker)
    else:
        msg = "copy style 'none' makes no bundle: the code must already be in the image."
        raise BundleError(msg)
    module = request.module
    if module is not None:
        probes.folder(str(bundle_root))
        if module.filename in files or (bundle_root / module.filename).exists():
            msg = (
                f"{bundle_root / module.filename} has the name of the module generated from the "
                f"notebook ({module.name}). Rename that file or the notebook."
            )
            raise BundleError(msg)
        files[module.filename] = FileRef(module.filename, data=module.source.encode())
    ordered = tuple(files[k] for k in sorted(files))
    excluded = tuple(sorted(walker.excluded, key=attrgetter("path")))
    return Selection(bundle_root, ordered, excluded, probes)


def _private(root_dir: Path, folders: tuple[PrivateDir, ...]) -> dict[str, str]:
    """``{path relative to root_dir: reason}`` of private folders that lie under it."""
    out: dict[str, str] = {}
    for folder, reason in folders:
        rel = os.path.relpath(os.path.abspath(folder), root_dir)
        if rel != "." and not rel.startswith(".."):
            out.setdefault(rel.replace(os.sep, "/"), reason)
    return out


def _checked_root(root_dir: Path) -> Path:
    path = Path(os.path.abspath(root_dir))  # abspath, not resolve: keep the user's symlinks
    if not path.exists():
        msg = f"root_dir {path} does not exist. Pass --root-dir with an existing folder."
        raise BundleError(msg)
    if not path.is_dir():
        msg = f"root_dir {path} is not a folder. Pass --root-dir with a folder."
        raise BundleError(msg)
    return path


class Walker:
    """Walks ``root_dir`` applying the ignore rules, following only symlinks that stay inside."""

    def __init__(
        self, root_dir: Path, bundle_root: Path, rules: IgnoreRules, probes: Probes
    ) -> None:
        self.root_dir = root_dir
        self.real_root = os.path.realpath(root_dir)
        self.bundle_root = bundle_root
        prefix = root_dir.relative_to(bundle_root).as_posix()
        self.prefix = "" if prefix == "." else prefix + "/"
        self.rules = rules
        self.probes = probes
        self.excluded: list[Excluded] = []
        self._loaded_rules: set[str] = set()

    def arcname(self, rel: str) -> str:
        """Arcname of a path relative to root_dir."""
        return self.prefix + rel

    def walk_all(self) -> list[FileRef]:
        """Every file under root_dir that no rule excludes (in walk order)."""
        out: list[FileRef] = []
        self._walk(str(self.root_dir), "", self.real_root, frozenset({self.real_root}), out)
        return out

    def _walk(
        self, folder: str, rel: str, real: str, seen: frozenset[str], out: list[FileRef]
    ) -> None:
        self._load_rules(rel, folder)  # records the folder before it is listed
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=_by_name)
        except OSError as exc:
            self.probes.taint()
            name = self.arcname(rel).rstrip("/") or "."
            self.excluded.append(Excluded(name, f"unreadable folder ({exc.strerror})"))
            return
        if rel and any(entry.name == OUTPUT_MARKER for entry in entries):
            why = f"flyte_jupyter output (holds {OUTPUT_MARKER}, e.g. %flyte_serialize --folder)"
            self.excluded.append(Excluded(self.arcname(rel) + "/", why))
            return
        reason_of, prefix = self.rules.reason, self.prefix
        for entry in entries:
            child = f"{rel}/{entry.name}" if rel else entry.name
            linked = entry.is_symlink()
            if linked:
                problem = self._link_problem(entry.path)
                if problem:
                    self.excluded.append(Excluded(prefix + child, problem))
                    continue
            is_dir = entry.is_dir()
            reason = reason_of(child, is_dir=is_dir)
            if reason:  # named like the files: relative to the bundle root
                self.excluded.append(Excluded(prefix + child + ("/" if is_dir else ""), reason))
            elif is_dir:
                sub = os.path.realpath(entry.path) if linked else os.path.join(real, entry.name)
                if sub not in seen:  # a link back to an ancestor would loop forever
                    self._walk(entry.path, child, sub, seen | {sub}, out)
            elif entry.is_file():
                out.append(FileRef(prefix + child, entry.path))

    def _load_rules(self, rel: str, folder: str) -> None:
        if rel not in self._loaded_rules:
            self._loaded_rules.add(rel)
            self.probes.folder(folder)
            for name in IGNORE_FILES:
                self.probes.content(os.path.join(folder, name))
            self.rules.load(rel, Path(folder), self.real_root)

    def _link_problem(self, path: str) -> str | None:
        """Why the symlink at ``path`` cannot be followed, or None when it stays inside."""
        self.probes.taint()  # a link's target may change without any recorded stat changing
        target = os.path.realpath(path)
        if not os.path.exists(target):
            return f"broken symlink (-> {os.readlink(path)})"
        if os.path.commonpath([target, self.real_root]) != self.real_root:
            return f"symlink escapes root_dir (-> {target})"
        return None

    def check(self, path: Path) -> tuple[str, str | None]:
        """Arcname of a file under root_dir and why it is excluded (None if it ships)."""
        root = str(self.root_dir)
        rel = os.path.relpath(path, root).replace(os.sep, "/")
        parts = rel.split("/")
        for depth in range(len(parts)):
            folder = "/".join(parts[:depth])
            self._load_rules(folder, os.path.join(self.root_dir, folder) if folder else root)
            is_dir = depth < len(parts) - 1
            reason = self.rules.reason("/".join(parts[: depth + 1]), is_dir=is_dir)
            if reason:
                return self.arcname(rel), reason
        problem = self._link_problem(str(path)) if os.path.islink(path) else None
        return self.arcname(rel), problem
