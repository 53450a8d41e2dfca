"""Typed inputs and outputs of bundling."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NamedTuple, get_args

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from flyte_jupyter.capture.model import CapturedModule, Dropped
    from flyte_jupyter.capture.origins import CellOrigins

CopyStyle = Literal["auto", "all", "none"]
COPY_STYLES: tuple[str, ...] = get_args(CopyStyle)

MIB = 1024 * 1024


@dataclass(frozen=True)
class BundleLimits:
    """Size limits: warn above ``warn_bytes``, refuse above ``max_bytes`` (uncompressed)."""

    warn_bytes: int = 100 * MIB
    max_bytes: int = 1024 * MIB


@dataclass(frozen=True)
class BundleRequest:
    """What to bundle.

    Parameters
    ----------
    root_dir
        The folder whose files may be shipped (default in the adapters: the notebook's folder).
    copy_style
        ``auto``: the generated module plus the local modules it needs; ``all``: every file
        under ``root_dir`` that no ignore rule excludes; ``none``: no bundle.
    module
        The module generated from notebook cells, if any.
    loaded_modules
        ``{module name: file}`` of modules loaded in the kernel (``sys.modules``); those under
        ``root_dir`` are shipped with copy style ``auto``.
    include
        gitignore-style patterns that force files in despite the ignore and secret rules.
    limits
        Size limits.
    private_dirs
        Folders that never ship whatever the rules say, each with the reason shown for it:
        flyte_jupyter's own home (caches, archives, stores, runs) and a local bundle store,
        when they lie under ``root_dir``.
    """

    root_dir: Path
    copy_style: CopyStyle = "auto"
    module: CapturedModule | None = None
    loaded_modules: Mapping[str, str] = field(default_factory=dict)
    include: tuple[str, ...] = ()
    limits: BundleLimits = field(default_factory=BundleLimits)
    private_dirs: tuple[PrivateDir, ...] = ()


class PrivateDir(NamedTuple):
    """A folder that never ships (flyte_jupyter's own files), and why, as the Bundle shows it."""

    path: Path
    reason: str

    @classmethod
    def home(cls, path: Path) -> PrivateDir:
        """flyte_jupyter's home: caches, archives, the default store, runs."""
        why = "flyte_jupyter's home (FLYTE_JUPYTER_HOME): its caches, stores and runs never ship"
        return cls(path, why)

    @classmethod
    def store(cls, path: Path) -> PrivateDir:
        """A local bundle store: shipping it would put every archive in the next one."""
        return cls(path, "the bundle store (store setting): bundles never ship archives")


@dataclass(frozen=True)
class Excluded:
    """A path kept out of the bundle, and the rule that kept it out."""

    path: str
    reason: str


class ManifestEntry(NamedTuple):
    """One file of a bundle: POSIX path relative to the bundle root, normalised mode, size, hash.

    A named tuple rather than a dataclass: a bundle holds one per file, and an unchanged tree
    is re-checked in about the time of a ``stat`` per file, so creating them must be cheap.
    """

    path: str
    mode: int
    size: int
    sha256: str


@dataclass(frozen=True)
class Bundle:
    """A deterministic, content-addressed source bundle.

    ``digest`` is the sha256 of the canonical manifest (path, mode, size, content sha256 of every
    file); ``path`` is the local archive ``fast<digest>.tar.gz`` and ``sha256`` the sha256 of
    its bytes as this kernel wrote them (once published: of the object this kernel uploaded or
    verified). Runs execute only an archive with that sha256. ``uri`` and ``reused`` are set
    once the bundle is in a store. ``origins`` maps lines of the generated module back to
    notebook cells (for tracebacks of its runs); it takes no part in the digest.
    """

    digest: str
    path: Path
    root: Path
    entries: tuple[ManifestEntry, ...]
    module: str | None
    source: str | None
    dropped: tuple[Dropped, ...]
    excluded: tuple[Excluded, ...]
    warnings: tuple[str, ...] = ()
    uri: str | None = None
    reused: bool | None = None
    sha256: str | None = None
    origins: CellOrigins | None = None

    @property
    def filename(self) -> str:
        """Archive file name, ``fast<digest>.tar.gz``."""
        return archive_name(self.digest)

    @property
    def files(self) -> list[str]:
        """Relative POSIX paths of the shipped files, sorted."""
        return [e.path for e in self.entries]

    @property
    def size(self) -> int:
        """Total uncompressed size of the shipped files in bytes."""
        return sum(e.size for e in self.entries)

    @property
    def archive_size(self) -> int:
        """Size of the compressed archive in bytes."""
        return self.path.stat().st_size

    def _repr_html_(self) -> str:
        from flyte_jupyter.bundle.display import bundle_html

        return bundle_html(self)

    def __repr__(self) -> str:
        return (
            f"Bundle(digest={self.digest[:12]}…, files={len(self.entries)}, "
            f"size={self.size}, module={self.module!r}, uri={_shown_uri(self.uri)!r})"
        )


def _shown_uri(uri: str | None) -> str | None:
    from flyte_jupyter.redaction import redact_url

    return redact_url(uri) if uri else uri


def archive_name(digest: str) -> str:
    """File name of the archive for a bundle digest."""
    return f"fast{digest}.tar.gz"


class FileRef(NamedTuple):
    """A file to ship: either a path on disk or generated bytes."""

    arcname: str
    path: str | None = None
    data: bytes | None = None
