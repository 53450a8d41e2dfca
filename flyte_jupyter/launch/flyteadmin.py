"""Talking to Flyte admin: the connection config, execution phases, and error messages.

The connection is flytekit's ``Config`` (``Config.auto`` of the settings' config file: TLS,
auth, console endpoint, storage) with the settings' ``endpoint`` on top. Failed gRPC calls are
explained with admin's own words and what to do.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from flyte_jupyter.errors import LaunchError
from flyte_jupyter.launch.cluster import require_endpoint, split_endpoint

if TYPE_CHECKING:
    from flyte_jupyter.launch.model import Status
    from flyte_jupyter.settings import Settings

RPC_TIMEOUT = 60.0

# flyteidl core.WorkflowExecution.Phase -> run status
PHASES: dict[int, Status] = {
    0: "QUEUED",  # UNDEFINED
    1: "QUEUED",
    2: "RUNNING",
    3: "RUNNING",  # SUCCEEDING
    4: "SUCCEEDED",
    5: "RUNNING",  # FAILING
    6: "FAILED",
    7: "ABORTED",
    8: "FAILED",  # TIMED_OUT
    9: "RUNNING",  # ABORTING
}
PHASE_NAMES = (
    "UNDEFINED",
    "QUEUED",
    "RUNNING",
    "SUCCEEDING",
    "SUCCEEDED",
    "FAILING",
    "FAILED",
    "ABORTED",
    "TIMED_OUT",
    "ABORTING",
)
_HOW_TO_CONFIGURE = (
    "set endpoint (FLYTE_JUPYTER_ENDPOINT=dns:///flyte.example.com, endpoint = ... in "
    "[tool.flyte_jupyter], or %config FlyteJupyter.endpoint) or a flytekit config file with "
    "admin.endpoint (`flytectl config init --host flyte.example.com`, or `flytectl demo start` "
    "for a local sandbox; found at $FLYTECTL_CONFIG, ./flytekit.config, ~/.flyte/config or "
    "~/.flyte/config.yaml, or set config_file)"
)


def flyte_config(settings: Settings) -> Any:
    """The flytekit ``Config`` for the settings: the config file's, with ``endpoint`` on top.

    An endpoint written ``http://host:port`` is plaintext gRPC (``insecure``), ``https://...``
    TLS; ``dns:///host:port`` or ``host:port`` keep the config file's ``admin.insecure``.

    Raises
    ------
    LaunchError
        No endpoint is configured, or the config file cannot be read.
    """
    configured = require_endpoint(
        settings, "The remote backend", "flytekit config file", _HOW_TO_CONFIGURE
    )
    from flytekit.configuration import Config

    try:
        config = Config.auto(str(settings.config_file) if settings.config_file else None)
    except Exception as exc:
        msg = (
            f"Cannot read the flytekit config file {settings.config_file}: {exc}. Fix it, or "
            "point config_file (FLYTECTL_CONFIG) at a working one."
        )
        raise LaunchError(msg) from exc
    endpoint, insecure = split_endpoint(configured)
    platform = dataclasses.replace(config.platform, endpoint=endpoint)
    if insecure is not None:
        platform = dataclasses.replace(platform, insecure=insecure)
    return config.with_params(platform=platform)


def error_text(closure: Any) -> str:
    """Admin's error for a failed execution's closure, or a pointer to the console."""
    error = getattr(closure, "error", None)
    if error is None:
        return "The execution failed (admin gave no error message); see the Flyte console."
    code = getattr(error, "code", "") or ""
    message = getattr(error, "message", "") or ""
    return f"{code}: {message}" if code else message


def _rpc_error(exc: BaseException) -> Any:
    """The ``grpc.RpcError`` (a call's error: ``code()``, ``details()``) behind an exception."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if callable(getattr(current, "code", None)) and callable(getattr(current, "details", None)):
            return current
        current = current.__cause__ or current.__context__
    return None


def not_found(exc: BaseException) -> bool:
    """True when admin answered NOT_FOUND (flytekit raises its own exception for it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__name__ == "FlyteEntityNotExistException":
            return True
        current = current.__cause__ or current.__context__
    rpc = _rpc_error(exc)
    return rpc is not None and rpc.code().name == "NOT_FOUND"


def explain(exc: BaseException, action: str, endpoint: str) -> str:
    """A message for a failed call: admin's own words, and what to do."""
    rpc = _rpc_error(exc)
    if rpc is None:
        detail = str(exc) or type(exc).__name__
        return f"Could not {action} on Flyte admin {endpoint}: {detail}"
    code = rpc.code()
    details = rpc.details() or code.name
    name = code.name
    if name == "UNAVAILABLE":
        return (
            f"Cannot reach Flyte admin at {endpoint} to {action}: {details}. Check the endpoint, "
            "that the cluster is up, and admin.insecure (true for a plaintext endpoint such as a "
            "local sandbox)."
        )
    if name == "DEADLINE_EXCEEDED":
        return f"Flyte admin at {endpoint} did not answer within {RPC_TIMEOUT:.0f} s to {action}."
    if name in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return (
            f"Flyte admin at {endpoint} refused to {action}: {details} ({name}). Check the "
            "credentials in the flytekit config (admin.authType, admin.clientId)."
        )
    return f"Flyte admin at {endpoint} refused to {action}: {details} ({name})."
