"""The lowest layer above the defaults: the flytekit/flytectl config file.

The file is found as flytekit's ``get_config_file`` finds it (``_FLYTECTL_CONFIG_PYFLYTE_OVERRIDE``,
``FLYTECTL_CONFIG``, ``flytekit.config`` in the notebook's folder, ``~/.flyte/config``,
``~/.flyte/config.yaml``), unless ``config_file`` is set by a higher source. Values are read
with flytekit's own config entries (``flytekit.configuration.internal``), so keys, env-var
overrides (``FLYTE_<SECTION>_<OPTION>``) and transforms match ``Config.auto()`` — but the
environment comes from the mapping passed in, not from ``os.environ``, and files are parsed
strictly: a file that does not parse is an error, not a warning.

Read: project and domain (``task.project``/``[local] project``, then pyflyte's
``FLYTE_DEFAULT_PROJECT``/``FLYTE_DEFAULT_DOMAIN``), flyte v2's ``task.org``, the ``images``
section (and v2's ``image.image_refs``), the admin endpoint and the S3 storage connection (as
s3fs options ``endpoint_url``, ``key``, ``secret``).
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte_jupyter.errors import SettingsError
from flyte_jupyter.settings.images import DEFAULT_IMAGE_NAME, parse_image_specs
from flyte_jupyter.settings.sources import Layer, home_dir

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "FLYTECTL_CONFIG_ENV",
    "FLYTEKIT_SOURCE",
    "flytekit_layer",
    "locate_config_file",
]

FLYTECTL_CONFIG_ENV = "FLYTECTL_CONFIG"
_PYFLYTE_OVERRIDE_ENV = "_FLYTECTL_CONFIG_PYFLYTE_OVERRIDE"
FLYTEKIT_SOURCE = "flytekit config"
"""Every origin from this layer starts with this text."""


def locate_config_file(
    explicit: Path | None,
    explicit_origin: str,
    *,
    environ: Mapping[str, str],
    start_dir: Path,
) -> tuple[Path, str] | None:
    """Find the flytekit config file to read, and say how it was found.

    Parameters
    ----------
    explicit
        ``config_file`` from a higher source, if any; it must exist.
    explicit_origin
        That source, for messages and provenance.
    environ
        The environment (``FLYTECTL_CONFIG``, ``HOME``).
    start_dir
        The notebook's folder; flytekit looks for ``flytekit.config`` in its working folder.

    Returns
    -------
    tuple[Path, str] | None
        The file and its origin, or ``None`` when there is no config file.
    """
    if explicit is not None:
        return _existing(explicit, explicit_origin), explicit_origin
    for var in (_PYFLYTE_OVERRIDE_ENV, FLYTECTL_CONFIG_ENV):
        if environ.get(var):
            path = Path(environ[var]).expanduser()
            origin = f"env {var}"
            return _existing(path if path.is_absolute() else start_dir / path, origin), origin
    home = home_dir(environ)
    for candidate in (
        start_dir / "flytekit.config",
        home / ".flyte" / "config",
        home / ".flyte" / "config.yaml",
    ):
        if candidate.is_file():
            return candidate, "flytekit default location"
    return None


def _existing(path: Path, origin: str) -> Path:
    if not path.is_file():
        raise SettingsError(
            f"flytekit config file {str(path)!r} ({origin}) does not exist or is not a file. "
            "Fix the path, or unset it to use flytekit's default locations."
        )
    return path


def _load(path: Path, origin: str) -> Any:
    """Parse ``path`` strictly and return flytekit's ``ConfigFile`` for it."""
    import yaml  # type: ignore[import-untyped, unused-ignore]  # no stubs installed
    from flytekit.configuration.file import ConfigFile
    from flytekit.exceptions.user import FlyteAssertion

    fix = f"Fix {path} ({origin}) or point config_file elsewhere."
    # flytekit decides the format by the suffix and only logs YAML errors; check first.
    if str(path).endswith(("yaml", "yml")):
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise SettingsError(
                f"flytekit config file does not parse as YAML: {exc}. {fix}"
            ) from exc
        if doc is not None and not isinstance(doc, dict):
            raise SettingsError(f"flytekit config file is not a YAML mapping. {fix}")
    try:
        return ConfigFile(str(path))
    except (OSError, UnicodeDecodeError, configparser.Error, FlyteAssertion) as exc:
        raise SettingsError(f"flytekit config file does not parse: {exc}. {fix}") from exc


def _read(entry: Any, cfg: Any, environ: Mapping[str, str], file_origin: str) -> tuple[Any, str]:
    """``ConfigEntry.read`` with ``environ`` instead of ``os.environ``; returns (value, origin)."""
    var = entry.legacy.get_env_name()
    if environ.get(var):
        raw = environ[var]
        return (entry.transform(raw) if entry.transform else raw), f"env {var} (flytekit)"
    value = None
    if cfg is not None and cfg.legacy_config is not None:
        value = entry.legacy.read_from_file(cfg, entry.transform)
    elif cfg is not None and cfg.yaml_config and entry.yaml_entry is not None:
        value = entry.yaml_entry.read_from_file(cfg, entry.transform)
    return value, file_origin


def _images(cfg: Any, origin: str) -> list[tuple[str, str]]:
    from flytekit.configuration.internal import Images

    specified = Images.get_specified_images(cfg) if cfg is not None else {}
    if not isinstance(specified, dict):
        raise SettingsError(f"{origin}: 'images' must map names to image URIs.")
    named = [f"{name}={uri}" for name, uri in specified.items() if name != DEFAULT_IMAGE_NAME]
    images = parse_image_specs(named, origin, allow_untagged=True)  # as ImageConfig.auto
    if DEFAULT_IMAGE_NAME in specified:  # a default needs a tag: {{.image.default.version}}
        images.extend(parse_image_specs([str(specified[DEFAULT_IMAGE_NAME])], origin))
    taken = {name for name, _ in images}
    return images + [ref for ref in _v2_image_refs(cfg, origin) if ref[0] not in taken]


def _v2_image_refs(cfg: Any, origin: str) -> list[tuple[str, str]]:
    """Flyte v2's ``image.image_refs`` of the same file (what ``Image.from_ref_name`` reads).

    flytekit's ``images`` section wins for a name given in both.
    """
    doc = getattr(cfg, "yaml_config", None) if cfg is not None else None
    section = doc.get("image") if isinstance(doc, dict) else None
    refs = section.get("image_refs") if isinstance(section, dict) else None
    if refs is None:
        return []
    where = f"{origin} (image.image_refs)"
    if not isinstance(refs, dict):
        raise SettingsError(f"{where}: 'image_refs' must map names to image URIs.")
    named = [f"{name}={uri}" for name, uri in refs.items() if name != DEFAULT_IMAGE_NAME]
    specs = parse_image_specs(named, where, allow_untagged=True)
    if DEFAULT_IMAGE_NAME in refs:
        specs.extend(parse_image_specs([str(refs[DEFAULT_IMAGE_NAME])], where))
    return specs


def _yaml_value(cfg: Any, section: str, key: str) -> Any:
    """``section.key`` of a YAML config file (None when absent or not YAML)."""
    doc = getattr(cfg, "yaml_config", None) if cfg is not None else None
    part = doc.get(section) if isinstance(doc, dict) else None
    return part.get(key) if isinstance(part, dict) else None


def flytekit_layer(location: tuple[Path, str] | None, *, environ: Mapping[str, str]) -> Layer:
    """Read the flytekit config file at ``location`` (may be ``None``) and flytekit's env vars."""
    from flytekit.configuration import internal

    cfg = None
    file_origin = FLYTEKIT_SOURCE
    layer = Layer(FLYTEKIT_SOURCE)
    if location is not None:
        path, how = location
        file_origin = f"{FLYTEKIT_SOURCE} {path}"
        cfg = _load(path, how)
        layer.values["config_file"] = path
        layer.origins["config_file"] = f"{FLYTEKIT_SOURCE} ({how})"

    def put(key: str, value: object, origin: str) -> None:
        if value is not None and value not in ("", (), []):
            layer.values[key] = value
            layer.origins[key] = origin

    for key, entry, pyflyte_var in (
        ("project", internal.Local.USER_PROJECT, "FLYTE_DEFAULT_PROJECT"),
        ("domain", internal.Local.USER_DOMAIN, "FLYTE_DEFAULT_DOMAIN"),
    ):
        if environ.get(pyflyte_var):  # pyflyte's option default wins over the file
            put(key, environ[pyflyte_var].strip(), f"env {pyflyte_var} (pyflyte)")
        else:
            value, origin = _read(entry, cfg, environ, file_origin)
            put(key, str(value).strip() if value is not None else None, origin)
    put("images", _images(cfg, file_origin), file_origin)
    org = _yaml_value(cfg, "task", "org")  # flyte v2's organization; flytekit has none
    put("org", str(org).strip() if org is not None else None, f"{file_origin} (task.org)")
    endpoint, origin = _read(internal.Platform.URL, cfg, environ, file_origin)
    put("endpoint", endpoint, origin)
    options: list[tuple[str, object]] = []
    for option, entry in (
        ("endpoint_url", internal.AWS.S3_ENDPOINT),
        ("key", internal.AWS.S3_ACCESS_KEY_ID),
        ("secret", internal.AWS.S3_SECRET_ACCESS_KEY),
    ):
        value, origin = _read(entry, cfg, environ, file_origin)
        if value:
            options.append((option, str(value)))
            layer.origins[f"storage_options.{option}"] = origin
    put("storage_options", tuple(options), file_origin)
    return layer
