"""Translate fsspec, s3fs, botocore and OS exceptions into ``StoreError`` messages.

Each message names the bundle store's URL (the ``store`` setting), says what went wrong in
words, and says what to do. The original exception is kept as ``__cause__`` by the callers
(``raise ... from exc``). Exception types from botocore are matched by class name so this
module imports no cloud SDK.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from flyte_jupyter.errors import DamagedArchiveError, IntegrityError, StoreError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "Where",
    "damaged_archive_error",
    "integrity_error",
    "is_missing_bucket",
    "open_error",
    "translate",
]

_COMMON_PROTOCOLS = "file://, s3://, gs://, abfs://, memory://"
_SPACE_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


@dataclass(frozen=True)
class Where:
    """Which store an operation ran against, for messages.

    Parameters
    ----------
    url
        The store URL as the user gave it (normalised).
    local
        True for a folder on this machine (``file://``).
    endpoint
        The ``endpoint_url`` from the storage options, if any.
    """

    url: str
    local: bool
    endpoint: str | None = None


def open_error(url: str, exc: Exception) -> StoreError:
    """Explain why fsspec could not open ``url`` (unknown protocol or missing package).

    Parameters
    ----------
    url
        The store URL.
    exc
        What ``fsspec.core.url_to_fs`` raised.

    Returns
    -------
    StoreError
        The error to raise.
    """
    from fsspec.registry import known_implementations

    protocol = urlsplit(url).scheme
    known = known_implementations.get(protocol)
    if isinstance(exc, ImportError) and known is not None:
        package = str(known["class"]).split(".", 1)[0]
        hint = known.get("err") or f"Install {package}"
        return StoreError(
            f"The store URL {url} needs the {package!r} package, which is not installed "
            f"({hint}). Run: pip install {package}"
        )
    if isinstance(exc, ValueError) and "Protocol not known" in str(exc):
        return StoreError(
            f"Unknown protocol {protocol!r} in the store URL {url}. Use a local folder path, "
            f"or one of {_COMMON_PROTOCOLS} (any fsspec protocol works once its package is "
            "installed)."
        )
    return StoreError(f"Cannot open the store URL {url}: {exc}. Check the URL and its options.")


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _chain(exc: BaseException) -> list[BaseException]:
    out: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in out:
        out.append(current)
        current = current.__cause__
    return out


def _bucket(url: str) -> str:
    return urlsplit(url).netloc


def _error_codes(chain: list[BaseException]) -> set[str]:
    """S3 error codes carried by botocore ``ClientError``s in the chain."""
    codes: set[str] = set()
    for one in chain:
        response = getattr(one, "response", None)
        if isinstance(response, dict):
            codes.add(str(response.get("Error", {}).get("Code", "")))
    return codes


def is_missing_bucket(exc: BaseException) -> bool:
    """Tell whether ``exc`` says the bucket (not just a key) does not exist."""
    return "NoSuchBucket" in _error_codes(_chain(exc))


def _remote_message(where: Where, action: str, exc: BaseException) -> str | None:
    url = where.url
    chain = _chain(exc)
    names = set().union(*(_names(e) for e in chain))
    at = f" at {where.endpoint}" if where.endpoint else ""
    if names & {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"}:
        return (
            f"No credentials found to {action} {url}. Set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE with ~/.aws/credentials), or pass "
            "storage_options={'anon': True} for a public bucket."
        )
    if names & {"EndpointConnectionError", "ConnectTimeoutError", "ConnectionError"} or (
        isinstance(exc, (ConnectionError, TimeoutError))
    ):
        target = where.endpoint or f"the service behind {url}"
        return (
            f"Cannot reach {target} to {action} {url} ({exc}). Check that the endpoint_url is "
            "right and the service is running, and check your network or proxy settings."
        )
    if isinstance(exc, PermissionError):
        return (
            f"Access denied to {action} {url}{at} ({exc}). Use credentials that may list, read "
            "and write this prefix (s3:ListBucket, s3:GetObject, s3:PutObject), or choose "
            "another store URL."
        )
    if isinstance(exc, FileNotFoundError) and "NoSuchBucket" in _error_codes(chain):
        return (
            f"The bucket {_bucket(url)!r} of the store URL {url} does not exist{at}. Create it "
            f"(e.g. aws s3 mb s3://{_bucket(url)}) or fix the store URL."
        )
    return None


def _local_message(where: Where, action: str, exc: BaseException) -> str | None:
    url = where.url
    if isinstance(exc, (NotADirectoryError, FileExistsError)):
        return (
            f"The store URL {url} points at a file, not a folder. Use a folder (it is created "
            "if missing), e.g. the folder that contains that file plus '/store'."
        )
    if isinstance(exc, OSError) and exc.errno == errno.EROFS:
        return (
            f"Cannot {action} {url}: the folder is on a read-only file system. Choose a "
            "writable folder as the store URL."
        )
    if isinstance(exc, PermissionError):
        return (
            f"Cannot {action} {url}: permission denied ({exc}). Make the folder writable or "
            "choose another store URL."
        )
    if isinstance(exc, OSError) and exc.errno in _SPACE_ERRNOS:
        return (
            f"Cannot {action} {url}: no space left on the device. Free some space or choose a "
            "store URL on another disk; nothing was published."
        )
    return None


def translate(where: Where, action: str, exc: BaseException) -> StoreError:
    """Turn what a store step raised into a ``StoreError`` that says what to do.

    Parameters
    ----------
    where
        The store.
    action
        What was being done, as a verb phrase (``"publish to"``, ``"read from"``).
    exc
        The exception.

    Returns
    -------
    StoreError
        The error to raise (``exc`` itself when it already is one).
    """
    if isinstance(exc, StoreError):
        return exc
    if where.local:
        message = _local_message(where, action, exc)
    else:
        message = _remote_message(where, action, exc)
    if message is None:
        message = (
            f"Cannot {action} {where.url}: {type(exc).__name__}: {exc}. Check the store URL "
            "and its storage options, then try again."
        )
    return StoreError(message)


def integrity_error(uri: str, actual: str, expected: str, *, built: bool = False) -> IntegrityError:
    """Explain that an object's bytes do not match the sha256 they must have.

    Parameters
    ----------
    uri
        The object.
    actual
        sha256 of the bytes read.
    expected
        sha256 recorded in the ``.sha256`` sidecar, or (``built``) the one the kernel built.
    built
        ``expected`` is the sha256 of the archive the kernel built, not the sidecar's.

    Returns
    -------
    IntegrityError
        The error to raise.
    """
    if built:
        return IntegrityError(
            f"The stored bundle {uri} does not match what the kernel built: its bytes hash to "
            f"sha256 {actual}, the kernel built {expected}. Someone replaced or damaged it in "
            "the store. Run the cell again: the kernel checks the store and uploads its own "
            "archive."
        )
    return IntegrityError(
        f"{uri} is corrupt: its bytes hash to sha256 {actual} but {uri}.sha256 records "
        f"{expected}. Delete both objects and publish the bundle again (re-run the cell)."
    )


def damaged_archive_error(archive: Path, actual: str, expected: str) -> DamagedArchiveError:
    """Explain that a cached archive no longer has the bytes it was built with."""
    return DamagedArchiveError(
        f"The cached bundle archive {archive} is damaged: its bytes hash to sha256 {actual}, "
        f"but it was built as {expected}. Nothing was uploaded. Delete it (and "
        f"{archive.name}.built beside it) and run again: the bundle is rebuilt."
    )
