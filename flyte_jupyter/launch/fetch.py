"""Fetch a local run's bundle from the bundle store; prove it is the archive the kernel built.

flytekit's ``pyflyte-fast-execute`` downloads ``--additional-distribution`` and extracts it with
``tar`` without checking a byte. So before it starts, the supervisor downloads the object
itself, checks its sha256 against the one the kernel built (carried in ``command.json``; never
the store's ``.sha256`` sidecar, which whoever can write to the store can rewrite) and hands
flytekit the verified local copy. An object with other bytes (replaced in a shared store, or
damaged) is replaced by the kernel's own cached archive when that still has the built bytes,
and the run goes on with a note; otherwise the run fails saying what to do. Nothing of the
wrong archive is ever extracted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte_jupyter.errors import FlyteJupyterError, IntegrityError, LaunchError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["REUPLOADED", "Fetched", "bundle_entry", "fetch_verified"]

REUPLOADED = "the stored bundle did not match what this kernel built; it was re-uploaded"

# flytekit's S3 variables (set for the run by the local launcher) -> fsspec storage options
_S3_OPTIONS = (
    ("FLYTE_AWS_ENDPOINT", "endpoint_url"),
    ("FLYTE_AWS_ACCESS_KEY_ID", "key"),
    ("FLYTE_AWS_SECRET_ACCESS_KEY", "secret"),
)


@dataclass(frozen=True)
class Fetched:
    """The verified local copy of the bundle, and a note when the store had to be repaired."""

    path: Path
    note: str = ""


def bundle_entry(uri: str, digest: str, sha256: str, cache: Path) -> dict[str, str]:
    """What ``command.json`` records for the supervisor to fetch and check the bundle."""
    return {
        "uri": uri,
        "store": uri.rsplit("/", 1)[0],
        "digest": digest,
        "sha256": sha256,
        "cache": str(cache),
    }


def _options(store_url: str, env: Mapping[str, str]) -> dict[str, Any]:
    """Storage options for the bundle store, from the run's environment (as flytekit reads them)."""
    if not store_url.startswith(("s3://", "s3a://")):
        return {}
    return {option: env[name] for name, option in _S3_OPTIONS if env.get(name)}


def fetch_verified(
    entry: Mapping[str, str], dest_dir: Path, env: Mapping[str, str], home: Path
) -> Fetched:
    """Download the bundle into ``dest_dir`` and check it is the archive the kernel built.

    Parameters
    ----------
    entry
        From :func:`bundle_entry`.
    dest_dir
        Where the verified copy goes (not the folder it is extracted into).
    env
        The run's environment (credentials and endpoint of the bundle store).
    home
        flyte_jupyter's home (it holds the publish index).

    Returns
    -------
    Fetched
        The verified archive, with :data:`REUPLOADED` as note when the store held other bytes
        and the kernel's cached archive replaced them.

    Raises
    ------
    LaunchError
        The store cannot be read, or it holds other bytes and the kernel's cached archive is
        gone or damaged too.
    """
    from flyte_jupyter._os import sha256_file
    from flyte_jupyter.store.fsspec_store import BundleStore

    digest, expected, uri = entry["digest"], entry["sha256"], entry["uri"]
    cache = Path(entry["cache"])
    dest = dest_dir / cache.name
    try:
        store = BundleStore(
            entry["store"],
            index_path=home / "index.sqlite",
            storage_options=_options(entry["store"], env),
        )
        try:
            store.fetch(digest, dest, expected_sha256=expected)
        except IntegrityError as exc:
            if not (cache.is_file() and sha256_file(cache) == expected):
                msg = (
                    f"{exc} This kernel's cached archive {cache} is gone or changed too, so it "
                    "could not be put back; nothing was run. Run the cell again: the bundle is "
                    "rebuilt and uploaded."
                )
                raise LaunchError(msg) from exc
            store.reupload(cache, digest, expected)
            store.fetch(digest, dest, expected_sha256=expected)  # the store serves it now
            return Fetched(dest, REUPLOADED)
    except LaunchError:
        raise
    except FlyteJupyterError as exc:
        msg = f"Could not fetch the bundle {uri} for the run: {exc}"
        raise LaunchError(msg) from exc
    return Fetched(dest)
