"""Select files by copy style and write them as a deterministic, content-addressed archive.

Contract: ``make_bundle(request, cache_dir=...)`` returns a :class:`Bundle` whose ``digest`` is
the sha256 of a canonical manifest of (path, mode, size, content sha256) and whose archive
``fast<digest>.tar.gz`` has the same bytes for the same files on any host. No IPython,
ipywidgets or tornado here.
"""

from flyte_jupyter.bundle.build import make_bundle
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
from flyte_jupyter.bundle.walk import bundle_root_for

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
