"""Automatic versions: the same code and settings give the same version, in any process.

The version hashes what ends up in the registered task templates — the bundle digest, the
images, the container env, where the bundle lives and the flytekit and flyte_jupyter versions
that write the templates — and nothing else. Project and domain are left out on purpose: Flyte
scopes versions by project and domain already, and leaving them out lets the same code keep
its version when it is promoted from development to production.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from typing import TYPE_CHECKING

from flyte_jupyter._version import __version__

if TYPE_CHECKING:
    from flyte_jupyter.settings.model import Settings

__all__ = ["VERSION_LENGTH", "auto_version", "effective_version", "version_inputs"]

VERSION_LENGTH = 20
"""Hex characters kept from the sha256 (80 bits)."""


def _flytekit_version() -> str:
    # Read from package metadata so computing a version does not import flytekit.
    try:
        return metadata.version("flytekit")
    except metadata.PackageNotFoundError:  # pragma: no cover - flytekit is a dependency
        return "unknown"


def version_inputs(digest: str | None, settings: Settings) -> dict[str, object]:
    """Return the canonical inputs of :func:`auto_version` (shown by ``%flyte_settings``)."""
    return {
        "digest": digest,
        "copy_style": settings.copy_style,
        "store": settings.store,
        "images": {
            "default": settings.images.default,
            "named": [list(pair) for pair in settings.images.named],
        },
        "env": [list(pair) for pair in settings.env],
        "flytekit": _flytekit_version(),
        "flyte_jupyter": __version__,
    }


def auto_version(digest: str | None, settings: Settings) -> str:
    """Return a short, stable version for ``digest`` shipped with ``settings``.

    Parameters
    ----------
    digest
        The bundle digest (``None`` only for copy style ``none``).
    settings
        The settings the bundle is serialized with.

    Returns
    -------
    str
        ``VERSION_LENGTH`` lowercase hex characters; pure: same inputs, same version.
    """
    canonical = json.dumps(
        version_inputs(digest, settings), sort_keys=True, separators=(",", ":"), ensure_ascii=True
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:VERSION_LENGTH]


def effective_version(digest: str | None, settings: Settings) -> str:
    """Return ``settings.version`` when given, else :func:`auto_version`.

    Raises
    ------
    SettingsError
        Copy style ``none`` (no digest) without an explicit version.
    """
    if settings.version is not None:
        return settings.version
    if settings.copy_style == "none" or digest is None:
        return settings.require_version()
    return auto_version(digest, settings)
