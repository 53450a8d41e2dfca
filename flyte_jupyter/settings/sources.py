"""Readers for the sources above the flytekit config: pyproject, env vars, override mappings.

Each reader returns a :class:`Layer`: values already coerced to their canonical types, plus
the origin of each key for provenance. Readers take what they read as arguments (a start
folder, an environment mapping); nothing here reads ``os.environ`` or runs at import.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flyte_jupyter.errors import SettingsError
from flyte_jupyter.settings.coerce import coerce
from flyte_jupyter.settings.fields import (
    CONFIG_CEILING_ENV,
    ENV_PREFIX,
    FIELD_SPECS,
    env_var_name,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 needs the tomli backport
    import tomli as tomllib

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "PYPROJECT_TABLE",
    "Layer",
    "env_layer",
    "find_pyproject",
    "home_dir",
    "mapping_layer",
    "pyproject_layer",
]

logger = logging.getLogger(__name__)

PYPROJECT_TABLE = "tool.flyte_jupyter"
_META_ENV = {CONFIG_CEILING_ENV}


@dataclass(frozen=True)
class Layer:
    """Settings from one source.

    Parameters
    ----------
    source
        The source as a whole, e.g. ``pyproject.toml /repo/pyproject.toml``.
    values
        ``key -> canonical value`` for the keys this source sets.
    origins
        ``key -> origin`` recorded in provenance, e.g. ``env FLYTE_JUPYTER_PROJECT``.
    """

    source: str
    values: dict[str, object] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)


def build_layer(
    source: str,
    raw: Mapping[str, object],
    *,
    base_dir: Path,
    origin_of: Callable[[str], str],
    unset_hint: Callable[[str], str] | None = None,
) -> Layer:
    """Check the keys of ``raw`` and coerce its values; ``None`` values are skipped.

    A key set to ``None`` is unset, known or not: that is how a misspelt ``%config`` key
    that IPython keeps for the session is cleared. ``unset_hint(key)`` says how.
    """
    unknown = sorted(
        key for key, value in raw.items() if key not in FIELD_SPECS and value is not None
    )
    if unknown:
        hint = f" Or unset it: {unset_hint(unknown[0])}." if unset_hint else ""
        raise SettingsError(
            f"{source}: unknown setting {', '.join(map(repr, unknown))}. "
            f"Valid settings: {', '.join(FIELD_SPECS)}.{hint}"
        )
    layer = Layer(source)
    for key, value in raw.items():
        if value is None:
            continue
        origin = origin_of(key)
        layer.values[key] = coerce(FIELD_SPECS[key], value, origin, base_dir=base_dir)
        layer.origins[key] = origin
    return layer


def home_dir(environ: Mapping[str, str]) -> Path:
    """The user's home folder according to ``environ`` (falls back to ``Path.home()``)."""
    home = environ.get("HOME") or environ.get("USERPROFILE")
    return Path(home) if home else Path.home()


def _ceilings(environ: Mapping[str, str]) -> set[Path]:
    raw = environ.get(CONFIG_CEILING_ENV, "")
    ceilings = {Path(p).expanduser().resolve() for p in raw.split(os.pathsep) if p}
    ceilings.add(home_dir(environ).resolve())
    return ceilings


def _read_toml(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(
            f"{path} could not be read as TOML: {exc}. Fix the file, or set "
            f"{CONFIG_CEILING_ENV} to stop the search below it."
        ) from exc


def _tool_table(doc: Mapping[str, object]) -> dict[str, object] | None:
    tool = doc.get("tool")
    table = tool.get("flyte_jupyter") if isinstance(tool, dict) else None
    return table if isinstance(table, dict) else None


def find_pyproject(
    start_dir: Path, environ: Mapping[str, str]
) -> tuple[Path, dict[str, object]] | None:
    """Find the nearest ``pyproject.toml`` with a ``[tool.flyte_jupyter]`` table.

    The search starts in ``start_dir`` and walks up; it stops after the first folder listed in
    ``FLYTE_JUPYTER_CONFIG_CEILING`` (``os.pathsep``-separated), after the home folder, or at
    the file system root. A ``pyproject.toml`` without the table is passed over.

    Returns
    -------
    tuple[Path, dict[str, object]] | None
        The file and its table, or ``None``.
    """
    ceilings = _ceilings(environ)
    folder = start_dir.resolve()
    while True:
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            table = _tool_table(_read_toml(candidate))
            if table is not None:
                return candidate, table
        if folder in ceilings or folder.parent == folder:
            return None
        folder = folder.parent


def pyproject_layer(start_dir: Path, environ: Mapping[str, str]) -> Layer | None:
    """Read ``[tool.flyte_jupyter]`` of the nearest pyproject; relative paths are relative to it."""
    found = find_pyproject(start_dir, environ)
    if found is None:
        return None
    path, table = found
    source = f"pyproject.toml {path}"
    return build_layer(source, table, base_dir=path.parent, origin_of=lambda _key: source)


def env_layer(environ: Mapping[str, str], *, base_dir: Path) -> Layer:
    """Read ``FLYTE_JUPYTER_<KEY>`` variables from ``environ`` (an explicit mapping)."""
    by_var = {env_var_name(key): key for key in FIELD_SPECS}
    raw: dict[str, object] = {}
    for var, value in environ.items():
        if not var.startswith(ENV_PREFIX) or var in _META_ENV:
            continue
        if var not in by_var:
            logger.warning(
                "Ignoring %s: not a flyte_jupyter setting (valid: %s)",
                var,
                ", ".join(sorted(by_var)),
            )
            continue
        raw[by_var[var]] = value
    return build_layer(
        "environment", raw, base_dir=base_dir, origin_of=lambda key: f"env {env_var_name(key)}"
    )


def mapping_layer(
    source: str,
    values: Mapping[str, object],
    *,
    base_dir: Path,
    origin_of: Callable[[str], str] | None = None,
    unset_hint: Callable[[str], str] | None = None,
) -> Layer:
    """Layer for ``%config`` traits, the panel or magic options (keys as in ``FIELD_SPECS``)."""
    return build_layer(
        source,
        values,
        base_dir=base_dir,
        origin_of=origin_of or (lambda _key: source),
        unset_hint=unset_hint,
    )
