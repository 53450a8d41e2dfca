"""Value types of the bundle store (where archives are published; the ``store`` setting)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Published"]


@dataclass(frozen=True)
class Published:
    """Where an archive lives in the bundle store, and whether this call had to send it.

    Parameters
    ----------
    uri
        Full URL of the object, e.g. ``s3://bucket/prefix/fast<digest>.tar.gz``.
    reused
        True when no bytes were sent: the object was already in the store.
    sha256
        sha256 of the archive bytes (hex).
    size
        Size of the archive in bytes.
    """

    uri: str
    reused: bool
    sha256: str
    size: int
