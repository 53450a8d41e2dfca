"""Each SDK's serialization settings from :class:`Settings`.

Fast registration in flytekit terms: the task command becomes ``pyflyte-fast-execute
--additional-distribution <bundle URI> --dest-dir . -- pyflyte-execute ...``, so the container
downloads the bundle and imports the code from it. flyte v2's command is ``a0 ... --tgz <bundle
URI> --dest . --resolver ...`` from the plain settings of :func:`flyte_v2_settings`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyte_jupyter.errors import SettingsError
from flyte_jupyter.settings.images import DEFAULT_IMAGE_NAME, image_config
from flyte_jupyter.settings.model import check_version
from flyte_jupyter.settings.version import effective_version

if TYPE_CHECKING:
    from pathlib import Path

    from flyte_jupyter.bundle.model import Bundle
    from flyte_jupyter.settings.model import Settings

__all__ = [
    "FAST_DESTINATION_DIR",
    "flyte_v2_settings",
    "serialization_settings",
    "serialization_settings_for_bundle",
]

FAST_DESTINATION_DIR = "."
"""Where the container extracts the bundle (its working folder, as ``pyflyte register``)."""


def serialization_settings(
    settings: Settings,
    *,
    bundle_uri: str | None,
    source_root: Path | None,
    version: str,
) -> Any:
    """Build flytekit ``SerializationSettings``.

    Parameters
    ----------
    settings
        Project, domain, images and env come from here.
    bundle_uri
        Store URI of the bundle; enables fast registration. ``None`` (copy style ``none``):
        the code must be in the image, fast registration is off.
    source_root
        Bundle root: flytekit computes module names relative to it.
    version
        The version to register under.

    Returns
    -------
    flytekit.configuration.SerializationSettings
        Plain flytekit settings; they round-trip through ``to_json``/``from_json``.
    """
    from flytekit.configuration import (
        FastSerializationSettings,
        SerializationSettings,
    )

    fast = None
    if bundle_uri is not None:
        fast = FastSerializationSettings(
            enabled=True,
            destination_dir=FAST_DESTINATION_DIR,
            distribution_location=bundle_uri,
        )
    return SerializationSettings(
        image_config=image_config(settings.images),
        project=settings.project,
        domain=settings.domain,
        version=version,
        env=settings.env_dict or None,
        fast_serialization_settings=fast,
        source_root=str(source_root) if source_root is not None else None,
    )


def serialization_settings_for_bundle(
    settings: Settings, bundle: Bundle | None, *, version: str | None = None
) -> Any:
    """Build ``SerializationSettings`` for a stored bundle (``None`` for copy style ``none``).

    Raises
    ------
    SettingsError
        When the bundle has no store URI yet, or a bundle is missing for copy style other
        than ``none``.
    """
    if version is not None:
        check_version(version, "given to serialization_settings")
    _check_bundle(settings, bundle)
    if bundle is None:
        return serialization_settings(
            settings,
            bundle_uri=None,
            source_root=None,
            version=version or effective_version(None, settings),
        )
    return serialization_settings(
        settings,
        bundle_uri=bundle.uri,
        source_root=bundle.root,
        version=version or effective_version(bundle.digest, settings),
    )


def flyte_v2_settings(settings: Settings, bundle: Bundle | None) -> str:
    """Return flyte v2's serialization settings for a stored bundle (None: no bundle), as JSON.

    ``org`` is the settings' organization (None: the placeholder local runs need).
    ``images`` are the settings' named images as v2 image refs
    (``flyte.Image.from_ref_name("NAME")``), plus ``default`` (the image of an environment
    without one) only when a default image was chosen: otherwise v2's own default image for its
    version applies, not flytekit's.

    Raises
    ------
    SettingsError
        As :func:`serialization_settings_for_bundle`.
    """
    import json

    _check_bundle(settings, bundle)
    images = dict(settings.images.named)
    if settings.images.default is not None and not settings.images.default_is_stock:
        images[DEFAULT_IMAGE_NAME] = settings.images.default
    data = {
        "project": settings.project,
        "domain": settings.domain,
        "org": settings.org,
        "version": effective_version(bundle.digest if bundle else None, settings),
        "images": images,
        "bundle_uri": bundle.uri if bundle is not None else None,
    }
    return json.dumps(data, sort_keys=True)


def _check_bundle(settings: Settings, bundle: Bundle | None) -> None:
    if bundle is None and settings.copy_style != "none":
        raise SettingsError(
            f"copy style {settings.copy_style!r} ships a bundle, but none was given. "
            "Build and store the bundle first, or use copy style 'none'."
        )
    if bundle is not None and bundle.uri is None:
        raise SettingsError(
            f"bundle {bundle.digest[:12]} has no store URI yet; put it in the store before "
            "serializing, so tasks can download it."
        )
