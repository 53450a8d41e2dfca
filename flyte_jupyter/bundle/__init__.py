"""Select files by copy style and write them as a deterministic, content-addressed archive.

Contract: ``make_bundle(request, cache_dir=...)`` returns a :class:`Bundle` whose ``digest`` is
the sha256 of a canonical manifest of (path, mode, size, content sha256): the same for the
same files on every host. Its archive ``fast<digest>.tar.gz`` has the same bytes for the same
files wherever Python uses the same zlib build, whatever the thread count; a host with another
zlib (zlib-ng, a patched or accelerated build) may deflate them to other, equally valid bytes
under the same name (see :mod:`flyte_jupyter.bundle.gzblock`). No IPython, ipywidgets or
tornado here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyte_jupyter._lazy import lazy_exports
from flyte_jupyter.bundle.model import (
    COPY_STYLES,
    Bundle,
    BundleLimits,
    BundleRequest,
    CopyStyle,
    Excluded,
    ManifestEntry,
    archive_name,
)

if TYPE_CHECKING:
    from flyte_jupyter.bundle.build import make_bundle
    from flyte_jupyter.bundle.walk import bundle_root_for

# The builder is imported on first use: processes that only need the types (run supervisors,
# the bundle store) stay light.
_LAZY = {
    "make_bundle": "flyte_jupyter.bundle.build",
    "bundle_root_for": "flyte_jupyter.bundle.walk",
}

__all__ = [
    "COPY_STYLES",
    "Bundle",
    "BundleLimits",
    "BundleRequest",
    "CopyStyle",
    "Excluded",
    "ManifestEntry",
    "archive_name",
    "bundle_root_for",
    "make_bundle",
]


__getattr__ = lazy_exports(globals(), _LAZY)
