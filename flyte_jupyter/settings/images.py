"""Container images: ``--image`` values, flytekit's ``ImageConfig`` and task image references.

``--image URI`` (or ``default=URI``) sets the default image; ``--image NAME=URI`` adds a named
image that a task selects with ``container_image="{{.image.NAME.fqn}}:{{.image.NAME.version}}"``.
The URI rules are flytekit's (``Image.look_up_image_info``: a tag or a digest is required);
exactly one default per list, as in ``ImageConfig.validate_image``. With no default, flytekit's
default image for the local Python is used and marked as such.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte_jupyter.errors import SettingsError

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "DEFAULT_IMAGE_NAME",
    "ImageRefs",
    "check_image_refs",
    "find_image",
    "image_config",
    "parse_image_spec",
    "parse_image_specs",
    "stock_default_image",
]

DEFAULT_IMAGE_NAME = "default"
"""flytekit's name of the default image (``flytekit.configuration.DEFAULT_IMAGE_NAME``)."""

# flytekit's template ``{{.image.NAME.attr}}`` only matches these names
# (``flytekit.core.python_auto_container._IMAGE_TEMPLATE_SUBSTRING_REGEX``).
_NAME = re.compile(r"[A-Za-z0-9_-]+")

_EXAMPLE = "--image ghcr.io/org/image:tag or --image spark=ghcr.io/org/spark:3.5"

# The OCI/Docker reference grammar (distribution/reference regexp.go): [host[:port]/]path
# [:tag][@digest], lower-case path components. flytekit checks only that a tag or digest
# is there, so ``:::`` would pass it and fail in the cluster.
_HOST_PART = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_HOST_PART}(?:\.{_HOST_PART})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_PATH_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"(?:{_HOST}/)?{_PATH_PART}(?:/{_PATH_PART})*(?::{_TAG})?(?:@{_DIGEST})?")


@dataclass(frozen=True)
class ImageRefs:
    """The images of a settings object.

    Parameters
    ----------
    default
        URI of the default image; ``None`` means flytekit's default image, decided when needed.
    named
        ``(name, URI)`` pairs, sorted by name; tasks refer to them as ``{{.image.NAME...}}``.
    default_is_stock
        ``default`` is flytekit's default image for the local Python, not one a user chose.
    unbacked
        ``(name, source)`` of named images the user chose while no default image was chosen.
        Fine for flyte v2 (each environment names its image); the flytekit SDK refuses them
        (:meth:`flyte_jupyter.sdk.flytekit.FlytekitSdk.check_images`), since its tasks without
        ``container_image`` would silently run on the stock image.
    """

    default: str | None = None
    named: tuple[tuple[str, str], ...] = ()
    default_is_stock: bool = False
    unbacked: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        names = [name for name, _ in self.named]
        if len(set(names)) != len(names):
            raise SettingsError(f"image names must be unique, got {', '.join(names)}")
        for name in names:
            if name == DEFAULT_IMAGE_NAME or not _NAME.fullmatch(name):
                raise SettingsError(
                    f"image name {name!r} is not usable: use letters, digits, '_' or '-', "
                    f"and not {DEFAULT_IMAGE_NAME!r} (that is the default image)"
                )
        object.__setattr__(self, "named", tuple(sorted(self.named)))

    @property
    def names(self) -> tuple[str, ...]:
        """All names a task may refer to: ``default`` and the named images."""
        return (DEFAULT_IMAGE_NAME, *(name for name, _ in self.named))

    def get(self, name: str) -> str | None:
        """Return the URI of image ``name`` (``default`` included), or ``None``."""
        if name == DEFAULT_IMAGE_NAME:
            return self.default
        return dict(self.named).get(name)


def parse_image_spec(value: str, origin: str, *, allow_untagged: bool = False) -> tuple[str, str]:
    """Parse one ``URI`` or ``NAME=URI`` value into ``(name, URI)`` with flytekit's rules.

    Parameters
    ----------
    value
        The value as given, e.g. ``spark=ghcr.io/org/spark:3.5``.
    origin
        Where it came from, for error messages (``option --image``).
    allow_untagged
        Accept a URI without tag or digest (flytekit allows it in a config file's ``images:``).

    Returns
    -------
    tuple[str, str]
        ``("default", URI)`` for a default image, else ``(NAME, URI)``.
    """
    from flytekit.configuration import Image

    name, sep, uri = value.partition("=")
    if not sep:
        name, uri = DEFAULT_IMAGE_NAME, value
    name, uri = name.strip(), uri.strip()
    if not name or not uri or not _NAME.fullmatch(name) or re.search(r"\s", uri):
        raise SettingsError(
            f"{origin}: image {value!r} is not 'URI' or 'NAME=URI' (NAME: letters, digits, "
            f"'_' or '-'). Use e.g. {_EXAMPLE}."
        )
    if not _REFERENCE.fullmatch(uri) and not Path(uri).is_file():
        raise SettingsError(
            f"{origin}: image {value!r} is not valid: {uri!r} is not an image reference "
            "([registry[:port]/]repository[:tag][@digest], repository in lower case). "
            f"Use e.g. {_EXAMPLE}."
        )
    if Path(uri).is_file():
        raise SettingsError(
            f"{origin}: image {value!r} names a file; ImageSpec files are not built here. "
            "Build the image and give its URI."
        )
    try:
        Image.look_up_image_info(name, uri, allow_no_tag_or_digest=allow_untagged)
    except (AssertionError, ValueError) as exc:
        raise SettingsError(
            f"{origin}: image {value!r} is not valid: {exc}. Give a tag or a digest, e.g. "
            f"{_EXAMPLE}."
        ) from exc
    return name, uri


def parse_image_specs(
    values: Iterable[str], origin: str, *, allow_untagged: bool = False
) -> list[tuple[str, str]]:
    """Parse a list of ``--image`` values; at most one default and each name once.

    Returns
    -------
    list[tuple[str, str]]
        ``(name, URI)`` pairs in the given order; the default is named ``default``.
    """
    parsed: dict[str, str] = {}
    for value in values:
        name, uri = parse_image_spec(value, origin, allow_untagged=allow_untagged)
        if name in parsed and name == DEFAULT_IMAGE_NAME:
            raise SettingsError(
                f"{origin}: two default images given ({parsed[name]!r} and {uri!r}); exactly "
                "one is allowed. Keep one as the default ('URI') and name the other "
                "('NAME=URI')."
            )
        if name in parsed:
            raise SettingsError(
                f"{origin}: image {name!r} is given twice ({parsed[name]!r} and {uri!r}). "
                "Give each name once."
            )
        parsed[name] = uri
    return list(parsed.items())


def stock_default_image() -> tuple[str, str]:
    """Return flytekit's default image for the local Python and a description of it."""
    from flytekit.configuration import DefaultImages

    uri: str = DefaultImages.default_image()
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return uri, f"flytekit default image for Python {python}"


def image_config(images: ImageRefs) -> Any:
    """Build flytekit's ``ImageConfig`` (default image plus named images).

    Returns
    -------
    flytekit.configuration.ImageConfig
        The config flytekit's serialization resolves ``{{.image.NAME...}}`` against.
    """
    from flytekit.configuration import Image, ImageConfig

    default_uri = images.default or stock_default_image()[0]
    default = Image.look_up_image_info(DEFAULT_IMAGE_NAME, default_uri)
    others = [
        Image.look_up_image_info(name, uri, allow_no_tag_or_digest=True)
        for name, uri in images.named
    ]
    return ImageConfig.create_from(default_image=default, other_images=others)


def find_image(images: ImageRefs, name: str) -> str:
    """Return the URI of image ``name``, or raise naming the images that exist."""
    if name == DEFAULT_IMAGE_NAME and images.default is None:
        return stock_default_image()[0]
    uri = images.get(name)
    if uri is None:
        raise SettingsError(
            f"image {name!r} is not defined (defined: {', '.join(images.names)}). "
            f"Add it with --image {name}=<URI> or in [tool.flyte_jupyter] images."
        )
    return uri


def check_image_refs(container_images: Iterable[object], images: ImageRefs) -> None:
    """Check that every ``{{.image.NAME...}}`` in task images names a defined image.

    Parameters
    ----------
    container_images
        The ``container_image`` values of the tasks to serialize; anything that is not a
        string (``None`` = default image, an ``ImageSpec``) is skipped.
    images
        The images of the settings in use.

    Raises
    ------
    SettingsError
        For the first reference to an undefined image.
    """
    from flytekit.core.python_auto_container import (
        _IMAGE_REPLACE_REGEX,  # flytekit's own template pattern, so both agree on what matches
    )

    for container_image in container_images:
        if not isinstance(container_image, str):
            continue
        for _, name, _attr in _IMAGE_REPLACE_REGEX.findall(container_image):
            if name not in images.names:
                raise SettingsError(
                    f"task image {container_image!r} refers to image {name!r}, which is not "
                    f"defined (defined: {', '.join(images.names)}). Add it with "
                    f"--image {name}=<URI> or in [tool.flyte_jupyter] images."
                )
