"""Find the local modules a piece of source imports, lazily or not, without executing it.

``import x`` inside a function body runs only when the task runs, so it is absent from the
kernel's ``sys.modules`` when the bundle is made; reading the source finds it anyway.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def imported_names(source: str, module: str, *, is_package: bool) -> set[str]:
    """Dotted module names that ``source`` may import, at any depth of the code.

    ``from a.b import c`` yields ``a``, ``a.b`` and ``a.b.c`` (``c`` may be a submodule);
    relative imports are resolved against ``module``.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()  # the self-check reports modules that do not parse
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names.update(_prefixes(alias.name))
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            if base is None:
                continue
            if base:
                names.update(_prefixes(base))
            for alias in node.names:
                if alias.name != "*":
                    names.add(f"{base}.{alias.name}" if base else alias.name)
    return names


def _absolute(node: ast.ImportFrom, package: str) -> str | None:
    if node.level == 0:
        return node.module or ""
    parts = package.split(".") if package else []
    if node.level - 1 > len(parts):
        return None  # beyond the top-level package: cannot be local
    base = parts[: len(parts) - (node.level - 1)]
    if node.module:
        base.append(node.module)
    return ".".join(base)


def _prefixes(dotted: str) -> list[str]:
    parts = dotted.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def module_file(name: str, bundle_root: Path) -> Path | None:
    """The file under ``bundle_root`` that defines module ``name``, or None."""
    base = bundle_root.joinpath(*name.split("."))
    for candidate in (base.with_name(base.name + ".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(arcname: str) -> tuple[str, bool]:
    """Module name and is-package flag for a ``.py`` arcname such as ``a/b/__init__.py``."""
    parts = arcname.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False
