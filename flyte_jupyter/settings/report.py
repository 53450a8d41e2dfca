"""What ``%flyte_settings`` shows: each key, its value (secrets hidden) and where it came from."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flyte_jupyter.redaction import Redactor
from flyte_jupyter.settings.fields import FIELD_SPECS
from flyte_jupyter.settings.images import DEFAULT_IMAGE_NAME

if TYPE_CHECKING:
    from flyte_jupyter.settings.model import Settings

__all__ = ["describe", "describe_text"]

_NONE_TEXT = {"version": "auto", "max_parallel_runs": "auto"}
_KIB = 1024


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """Return ``(key, value, source)`` rows for every setting, secrets redacted.

    ``images``, ``env`` and ``storage_options`` get one row per entry (``env.NAME``); an empty
    collection gets one row with the value ``(none)``.
    """
    provenance = settings.provenance
    # a secret of env or storage_options is hidden in every other value it appears in, too
    redactor = Redactor.of(settings.env_dict, settings.storage_options_dict)
    rows: list[tuple[str, str, str]] = []
    for key in FIELD_SPECS:
        source = provenance.get(key, "default")
        if key in {"images", "env", "storage_options"}:
            rows.extend(_entries(settings, key, source, redactor))
        else:
            rows.append((key, _text(key, _value(settings, key), redactor), source))
    return rows


def describe_text(settings: Settings) -> str:
    """Return :func:`describe` as an aligned plain-text table."""
    rows = [("setting", "value", "source"), *describe(settings)]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return "\n".join(
        f"{key:<{widths[0]}}  {value:<{widths[1]}}  {source}" for key, value, source in rows
    )


def _value(settings: Settings, key: str) -> object:
    if key == "bundle_warn_bytes":
        return settings.limits.warn_bytes
    if key == "bundle_max_bytes":
        return settings.limits.max_bytes
    return getattr(settings, key)


def _text(key: str, value: object, redactor: Redactor) -> str:
    if value is None:
        return _NONE_TEXT.get(key, "(not set)")
    if isinstance(value, tuple):
        return ", ".join(map(str, value)) or "(none)"
    if isinstance(value, int) and FIELD_SPECS[key].kind == "size":
        return _size(value)
    if isinstance(value, Path):
        return str(value)
    return redactor.value(key, value)


def _size(n: int) -> str:
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    value, index = float(n), 0
    while value >= _KIB and index < len(units) - 1:
        value, index = value / _KIB, index + 1
    return f"{value:g} {units[index]} ({n} bytes)"


def _entries(
    settings: Settings, key: str, source: str, redactor: Redactor
) -> list[tuple[str, str, str]]:
    provenance = settings.provenance
    if key == "images":
        default = settings.images.default or "flytekit default image (chosen when serializing)"
        pairs: list[tuple[str, object]] = [(DEFAULT_IMAGE_NAME, default)]
        pairs.extend(settings.images.named)
    else:
        pairs = list(getattr(settings, key))
    if not pairs:
        return [(key, "(none)", source)]
    return [
        (f"{key}.{name}", redactor.value(name, value), provenance.get(f"{key}.{name}", source))
        for name, value in pairs
    ]
