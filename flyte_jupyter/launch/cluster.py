"""What both remote launchers (flytekit's admin, flyte v2's control plane) share.

A cluster must be able to read the bundle it is told to run, and a remote run's logs are in
the Flyte console, not on this machine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flyte_jupyter.errors import LaunchError

if TYPE_CHECKING:
    from collections.abc import Callable

    from flyte_jupyter.bundle import Bundle
    from flyte_jupyter.launch.model import RunRecord
    from flyte_jupyter.launch.runstore import RunStore
    from flyte_jupyter.settings import Settings

__all__ = [
    "cancel_on_cluster",
    "check_endpoint",
    "check_readable",
    "console_logs",
    "require_endpoint",
    "split_endpoint",
    "version_hint",
]

_NOT_READABLE = ("file", "local", "memory")


def check_readable(bundle: Bundle | None, settings: Settings) -> None:
    """Refuse a bundle at a URI that only this machine can read.

    A URI the cluster's data proxy gave (``store = "flyte"``) is the cluster's own.

    Raises
    ------
    LaunchError
        Saying which stores a cluster reads.
    """
    if bundle is None or settings.store == "flyte":
        return
    uri = str(bundle.uri)
    scheme = uri.split("://", 1)[0] if "://" in uri else "file"
    if scheme in _NOT_READABLE:
        msg = (
            f"The bundle is at {uri}, which a Flyte cluster cannot read. For the remote "
            "backend, set store to a bucket the cluster reads (store = 's3://bucket/prefix', "
            "FLYTE_JUPYTER_STORE) or to 'flyte' to upload through Flyte's data proxy."
        )
        raise LaunchError(msg)


def console_logs(record: RunRecord, endpoint: str) -> str:
    """Where a remote run's logs are (the Flyte console), with its status and error."""
    lines = [
        f"Run {record.id} on {record.extra.get('endpoint', endpoint)}: {record.status}",
        f"Logs and details are in the Flyte console: {record.url}",
    ]
    if record.error:
        lines += ["", record.error]
    return "\n".join(lines) + "\n"


def require_endpoint(settings: Settings, who: str, config: str, how: str) -> str:
    """The settings' endpoint; without one, a ``LaunchError`` saying where none was found.

    ``who`` needs it ("The remote backend"), ``config`` names the SDK's config file ("flytekit
    config file") and ``how`` says how to set one.
    """
    if settings.endpoint:
        return settings.endpoint
    where = (
        f"{settings.config_file} has no admin.endpoint"
        if settings.config_file
        else f"no endpoint is set and no {config} was found"
    )
    msg = f"{who} needs a Flyte endpoint ({where}): {how}."
    raise LaunchError(msg)


def split_endpoint(endpoint: str) -> tuple[str, bool | None]:
    """``(host target, insecure)`` of an endpoint; ``insecure`` is None when not implied.

    ``http://`` is plaintext, ``https://`` TLS; ``dns:///host:port`` or ``host:port`` leave
    it to the config file's ``admin.insecure``.
    """
    text = endpoint.strip().rstrip("/")
    for scheme, insecure in (("http://", True), ("https://", False)):
        if text.lower().startswith(scheme):
            return text[len(scheme) :], insecure
    return text, None


def version_hint(entity: str, verb: str) -> str:
    """What to do when ``entity`` (task, entity) exists under the version with another spec."""
    return (
        f"A version names one definition of each {entity}: if the code changed, {verb} under a "
        "new version (--version), or leave version on auto."
    )


def check_endpoint(record: RunRecord, endpoint: str, where: str) -> None:
    """Refuse to follow a run recorded on another endpoint than the one configured.

    ``where`` names the service (``Flyte admin``, ``the Flyte control plane``).
    """
    recorded = record.extra.get("endpoint")
    if recorded is not None and recorded != endpoint:
        msg = (
            f"Run {record.id} runs on {where} {recorded}, but the remote backend is configured "
            f"for {endpoint}. Set endpoint back to {recorded} to follow it."
        )
        raise LaunchError(msg)


def cancel_on_cluster(
    record: RunRecord,
    fresh: Callable[[RunRecord], RunRecord],
    abort: Callable[[RunRecord], None],
    store: RunStore,
    cause: str,
) -> RunRecord:
    """Cancel a remote run: ``abort`` it unless it ended; record it ABORTED.

    ``fresh`` gives the run's current record from its cluster. An abort refused because the
    run ended meanwhile returns the ended run; any other refusal is raised.
    """
    current = fresh(record)
    if current.done:
        return current
    try:
        abort(current)
    except LaunchError:
        current = fresh(record)
        if current.done:  # it ended meanwhile: nothing left to cancel
            return current
        raise
    store.update(record.id, "ABORTED", "cancelled", error=f"aborted: {cause}")
    return store.get(record.id) or current
