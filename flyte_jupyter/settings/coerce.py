"""Turn raw values from any source into the canonical type of their key.

Sources hand over what they have: TOML values, strings from environment variables, trait and
widget values, parsed magic options. Each kind accepts its native type and a text form:

========== ====================================================================
kind       text form (environment variables)
========== ====================================================================
str_list   ``a,b,c`` or a JSON array
images     ``URI,NAME=URI`` or a JSON array; TOML may also use a table
str_map    ``KEY=VALUE,KEY2=VALUE2`` or a JSON object; lists of ``KEY=VALUE``
size       ``1048576``, ``100MiB``, ``2GB``
========== ====================================================================

Errors name the source, the key, what was expected and, for non-secret kinds, the value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING

from flyte_jupyter.errors import SettingsError
from flyte_jupyter.settings.images import DEFAULT_IMAGE_NAME, parse_image_specs

if TYPE_CHECKING:
    from flyte_jupyter.settings.fields import FieldSpec

__all__ = ["OptionValue", "coerce"]

OptionValue = str | int | float | bool
"""A value in ``storage_options``."""

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SIZE = re.compile(r"(?i)\s*(\d+)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)?\s*")
_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_AUTO = "auto"


def coerce(spec: FieldSpec, value: object, origin: str, *, base_dir: Path) -> object:
    """Return ``value`` as the canonical type of ``spec``.

    Parameters
    ----------
    spec
        The key's specification.
    value
        The raw value (never ``None``: sources drop unset values).
    origin
        The source, for error messages, e.g. ``env FLYTE_JUPYTER_PROJECT``.
    base_dir
        Folder that relative paths are relative to (the pyproject's folder, or the notebook's).

    Returns
    -------
    object
        ``str``, ``str | None``, ``tuple[str, ...]``, ``Path | None``, ``int | None``,
        ``list[tuple[str, str]]`` (images) or ``tuple[tuple[str, V], ...]`` (maps).
    """
    return _COERCERS[spec.kind](spec, value, origin, base_dir)


def _fail(spec: FieldSpec, origin: str, expected: str, value: object) -> SettingsError:
    secret_kind = spec.kind in {"str_map", "option_map"}
    shown = f"a value of type {type(value).__name__}" if secret_kind else repr(value)
    where = f"{origin}: " if origin else ""
    return SettingsError(f"{where}{spec.key} must be {expected}, got {shown}. {spec.help}")


def _text(spec: FieldSpec, value: object, origin: str, *, allow_empty: bool = False) -> str:
    if isinstance(value, PathLike):
        value = str(value)
    if not isinstance(value, str) or (not allow_empty and not value.strip()):
        raise _fail(spec, origin, "a non-empty string", value)
    return value.strip()


def _choice(spec: FieldSpec, value: object, origin: str) -> str:
    text = value.strip().lower() if isinstance(value, str) else value
    if text not in spec.choices:
        raise _fail(spec, origin, f"one of {', '.join(spec.choices)}", value)
    return str(text)


def _json(spec: FieldSpec, text: str, origin: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(spec, origin, f"valid JSON ({exc.msg})", text) from exc


def _str_list(spec: FieldSpec, value: object, origin: str) -> list[str]:
    if isinstance(value, str):
        stripped = value.strip()
        value = _json(spec, stripped, origin) if stripped.startswith("[") else stripped.split(",")
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise _fail(spec, origin, "a list of strings (or 'a,b,c')", value)
    return [v.strip() for v in value if v.strip()]


def _path(spec: FieldSpec, value: object, origin: str, base_dir: Path) -> Path | None:
    text = _text(spec, value, origin, allow_empty=spec.kind == "optional_path")
    if not text:
        return None
    path = Path(text).expanduser()
    return path if path.is_absolute() else base_dir / path


def _images(spec: FieldSpec, value: object, origin: str) -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise _fail(spec, origin, "a table of NAME = URI strings", value)
        values = [v if k == DEFAULT_IMAGE_NAME else f"{k}={v}" for k, v in value.items()]
    else:
        values = _str_list(spec, value, origin)
    return parse_image_specs(values, origin)


def _pairs(spec: FieldSpec, value: object, origin: str) -> list[tuple[str, object]]:
    if isinstance(value, str):
        stripped = value.strip()
        value = _json(spec, stripped, origin) if stripped.startswith("{") else stripped.split(",")
        if isinstance(value, list):
            value = [item for item in value if item.strip()]
    if isinstance(value, list | tuple):
        pairs: list[tuple[str, object]] = []
        for item in value:
            if not isinstance(item, str) or not item.partition("=")[0].strip() or "=" not in item:
                raise _entry_error(spec, origin, item)
            key, _, val = item.partition("=")
            pairs.append((key.strip(), val))
        value = dict(pairs)
    if not isinstance(value, Mapping):
        raise _fail(spec, origin, "a table of KEY = VALUE (or 'KEY=VALUE,...')", value)
    out: dict[str, object] = {}
    for key, val in value.items():
        if not isinstance(key, str) or not key.strip():
            raise _entry_error(spec, origin, key)
        if not isinstance(val, str | int | float | bool):
            raise SettingsError(
                f"{origin}: {spec.key}.{key} must be a string, number or boolean, "
                f"got a value of type {type(val).__name__}."
            )
        out[key] = val
    return sorted(out.items())


def _entry_error(spec: FieldSpec, origin: str, entry: object) -> SettingsError:
    """An entry without a name: the values may be secrets, so only the name part is shown."""
    if not isinstance(entry, str):
        got = f"a {type(entry).__name__}"
    elif "=" not in entry:
        got = repr(entry)  # no '=': no value to hide
    else:
        got = "an entry with no name before '='"
    where = f"{origin}: " if origin else ""
    name = spec.option or spec.key
    return SettingsError(
        f"{where}an {name} entry needs KEY=VALUE, got {got}. Write e.g. {name} NAME=value."
    )


def _env_value(spec: FieldSpec, key: str, value: object, origin: str) -> str:
    if not _ENV_NAME.fullmatch(key):
        raise SettingsError(
            f"{origin}: {key!r} is not a valid environment variable name for {spec.key}; "
            "use letters, digits and '_', not starting with a digit."
        )
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _size(spec: FieldSpec, value: object, origin: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str) and (match := _SIZE.fullmatch(value)):
        return int(match.group(1)) * _UNITS[(match.group(2) or "b").lower()]
    raise _fail(spec, origin, "a size in bytes (e.g. 104857600 or '100MiB')", value)


def _optional_int(spec: FieldSpec, value: object, origin: str) -> int | None:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in {_AUTO, ""}:
            return None
        value = int(text) if text.isdigit() else value
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise _fail(spec, origin, f"a positive integer or {_AUTO!r}", value)


def _optional_str(spec: FieldSpec, value: object, origin: str) -> str | None:
    text = _text(spec, value, origin, allow_empty=True)
    return None if text == "" or (spec.key == "version" and text == _AUTO) else text


def _str_map(spec: FieldSpec, value: object, origin: str) -> tuple[tuple[str, str], ...]:
    return tuple((k, _env_value(spec, k, v, origin)) for k, v in _pairs(spec, value, origin))


_Coercer = Callable[["FieldSpec", object, str, Path], object]
_COERCERS: dict[str, _Coercer] = {
    "str": lambda s, v, o, _b: _text(s, v, o),
    "optional_str": lambda s, v, o, _b: _optional_str(s, v, o),
    "choice": lambda s, v, o, _b: _choice(s, v, o),
    "str_list": lambda s, v, o, _b: tuple(_str_list(s, v, o)),
    "path": _path,
    "optional_path": _path,
    "images": lambda s, v, o, _b: _images(s, v, o),
    "str_map": lambda s, v, o, _b: _str_map(s, v, o),
    "option_map": lambda s, v, o, _b: tuple(_pairs(s, v, o)),
    "size": lambda s, v, o, _b: _size(s, v, o),
    "optional_int": lambda s, v, o, _b: _optional_int(s, v, o),
}
