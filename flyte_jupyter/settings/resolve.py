"""Resolve :class:`Settings` from all sources, in the documented order, and validate once.

Scalar keys: the highest source that sets a key wins. ``images``, ``env`` and
``storage_options`` merge by entry name: a higher source adds entries and overrides entries of
the same name, and ``provenance`` records the source of each entry.
"""

from __future__ import annotations

import logging
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from flyte_jupyter.bundle.model import BundleLimits
from flyte_jupyter.errors import SettingsError
from flyte_jupyter.settings.fields import FIELD_SPECS
from flyte_jupyter.settings.flytekit_config import (
    FLYTEKIT_SOURCE,
    flytekit_layer,
    locate_config_file,
)
from flyte_jupyter.settings.images import DEFAULT_IMAGE_NAME, ImageRefs, stock_default_image
from flyte_jupyter.settings.model import Settings
from flyte_jupyter.settings.sources import (
    Layer,
    env_layer,
    home_dir,
    mapping_layer,
    pyproject_layer,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["replace_settings", "resolve_settings"]

logger = logging.getLogger(__name__)

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_MERGED = ("images", "env", "storage_options")
DEFAULT_SOURCE = "default"


def resolve_settings(
    *,
    start_dir: Path | str,
    environ: Mapping[str, str],
    traits: Mapping[str, Any] = _EMPTY,
    panel: Mapping[str, Any] = _EMPTY,
    options: Mapping[str, Any] = _EMPTY,
) -> Settings:
    """Resolve settings: defaults, flytekit config, pyproject, env, traits, panel, options.

    Parameters
    ----------
    start_dir
        The notebook's folder: where the pyproject search starts, the default ``root_dir``,
        and the base of relative paths from env vars, traits, the panel and options.
    environ
        The environment to read (``FLYTE_JUPYTER_*``, ``FLYTECTL_CONFIG``, flytekit's
        ``FLYTE_*`` overrides, ``HOME``); pass ``os.environ`` from the adapter.
    traits
        ``%config FlyteJupyter.<key>`` values the user set (e.g. ``shell.config.FlyteJupyter``);
        unknown keys and bad types are errors, ``None`` means unset.
    panel
        Values edited in the panel.
    options
        Per-call magic options, by settings key (``images`` for ``--image``, ...).

    Returns
    -------
    Settings
        Valid settings whose ``provenance`` names the source of every key.

    Raises
    ------
    SettingsError
        For any bad value, unknown key, missing or unparsable config file, or a ``root_dir``
        that is not a folder.
    """
    # absolute(), not resolve(): keep the user's symlinked paths as they wrote them
    start_dir = _folder(
        Path(start_dir).absolute(),
        "start_dir",
        "the notebook's folder",
        "Pass the folder of the notebook (or the kernel's working folder).",
    )
    upper = [
        layer
        for layer in (
            pyproject_layer(start_dir, environ),
            env_layer(environ, base_dir=start_dir),
            mapping_layer(
                "%config",
                traits,
                base_dir=start_dir,
                origin_of=lambda key: f"%config FlyteJupyter.{key}",
                unset_hint=lambda key: f"%config FlyteJupyter.{key} = None",
            ),
            mapping_layer("panel", panel, base_dir=start_dir),
            mapping_layer("options", options, base_dir=start_dir, origin_of=_option_origin),
        )
        if layer is not None
    ]
    explicit, explicit_origin = None, ""
    for layer in upper:
        if "config_file" in layer.values:
            explicit = cast("Path | None", layer.values["config_file"])
            explicit_origin = layer.origins["config_file"]
    location = locate_config_file(explicit, explicit_origin, environ=environ, start_dir=start_dir)
    values, provenance = _defaults(start_dir, environ)
    layers = [flytekit_layer(location, environ=environ), *upper]
    for layer in layers:
        _apply(values, provenance, layer, merge=True)
    logger.debug("Resolving settings from %s", ", ".join(layer.source for layer in layers))
    return _build(values, provenance)


def replace_settings(
    settings: Settings, source: str, /, *, merge: bool = True, **changes: Any
) -> Settings:
    """Return new settings with ``changes`` from ``source`` applied, validated.

    ``changes`` are one more layer on top of ``settings``.

    Parameters
    ----------
    settings
        The settings to start from (unchanged).
    source
        Recorded in ``provenance`` for each changed key, e.g. ``"panel"``.
    merge
        For ``images``, ``env`` and ``storage_options``: add to and override the current
        entries by name (as layers do in :func:`resolve_settings`) when true; replace the
        whole collection when false.
    **changes
        Settings keys (see ``FIELD_SPECS``) with raw values, coerced like any source;
        ``None`` leaves a key unchanged.

    Raises
    ------
    SettingsError
        For an unknown key or a bad value.
    """
    base_dir = Path.cwd()  # relative paths from a panel or magic mean the kernel's folder
    layer = mapping_layer(source, changes, base_dir=base_dir)
    values = _values_of(settings)
    provenance = dict(settings.provenance)
    _apply(values, provenance, layer, merge=merge)
    return _build(values, provenance)


def _option_origin(key: str) -> str:
    return f"option {FIELD_SPECS[key].option or '--' + key.replace('_', '-')}"


def _folder(path: Path, what: str, source: str, fix: str) -> Path:
    if not path.is_dir():
        problem = "is a file, not a folder" if path.exists() else "does not exist"
        raise SettingsError(f"{what} {str(path)!r} ({source}) {problem}. {fix}")
    return path


def _defaults(start_dir: Path, environ: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    values = _values_of(Settings(root_dir=start_dir, home=home_dir(environ) / ".flyte_jupyter"))
    provenance = dict.fromkeys(FIELD_SPECS, DEFAULT_SOURCE)
    provenance["root_dir"] = f"{DEFAULT_SOURCE} (the notebook's folder)"
    return values, provenance


def _values_of(settings: Settings) -> dict[str, Any]:
    """The inverse of :func:`_build`: settings as mutable per-key values."""
    images = dict(settings.images.named)
    if settings.images.default is not None and not settings.images.default_is_stock:
        images[DEFAULT_IMAGE_NAME] = settings.images.default
    values: dict[str, Any] = {key: getattr(settings, key, None) for key in FIELD_SPECS}
    values.update(
        images=images,
        env=dict(settings.env),
        storage_options=dict(settings.storage_options),
        bundle_warn_bytes=settings.limits.warn_bytes,
        bundle_max_bytes=settings.limits.max_bytes,
    )
    return values


def _apply(
    values: dict[str, Any], provenance: dict[str, str], layer: Layer, *, merge: bool
) -> None:
    for key, value in layer.values.items():
        origin = layer.origins[key]
        provenance[key] = origin
        if key not in _MERGED:
            values[key] = value
            continue
        if not merge:
            values[key] = {}
            for entry in [k for k in provenance if k.startswith(f"{key}.")]:
                del provenance[entry]
        for name, item in cast("list[tuple[str, Any]]", value):
            values[key][name] = item
            provenance[f"{key}.{name}"] = layer.origins.get(f"{key}.{name}", origin)


def _build(values: dict[str, Any], provenance: dict[str, str]) -> Settings:
    images = dict(values["images"])
    default = images.pop(DEFAULT_IMAGE_NAME, None)
    stock = default is None
    unbacked: tuple[tuple[str, str], ...] = ()
    if stock:
        default, provenance[f"images.{DEFAULT_IMAGE_NAME}"] = stock_default_image()
        unbacked = _unbacked(images, provenance)
    fields = {k: v for k, v in values.items() if k not in {"bundle_warn_bytes", "bundle_max_bytes"}}
    fields.update(
        images=ImageRefs(
            default=default,
            named=tuple(images.items()),
            default_is_stock=stock,
            unbacked=unbacked,
        ),
        env=tuple(values["env"].items()),
        storage_options=tuple(values["storage_options"].items()),
        limits=BundleLimits(
            warn_bytes=values["bundle_warn_bytes"], max_bytes=values["bundle_max_bytes"]
        ),
        provenance=provenance,
    )
    settings = Settings(**fields)
    if settings.root_dir is not None:
        _folder(
            settings.root_dir,
            "root_dir",
            f"from {provenance['root_dir']}",
            "Give an existing folder (e.g. --root-dir . for the notebook's folder).",
        )
    return settings


def _unbacked(
    named: Mapping[str, str], provenance: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """``(name, source)`` of named images chosen in flyte_jupyter's sources (not flytekit's).

    Kept on the settings (``ImageRefs.unbacked``): flytekit refuses them without a default
    image, flyte v2 needs none.
    """
    return tuple(
        (name, provenance[f"images.{name}"])
        for name in sorted(named)
        if not provenance[f"images.{name}"].startswith(FLYTEKIT_SOURCE)
    )
