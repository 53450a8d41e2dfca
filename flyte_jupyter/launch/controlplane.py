"""Talking to a Flyte v2 control plane: its configuration, its errors, an event loop for calls.

flyte's ``ClientSet`` (Connect RPC) makes the calls; this module reads the connection from the
flyte config file (:func:`v2_platform`), turns refused and failed calls into messages that say
what was being done and where (:func:`explain`), and gives the launcher one event loop in a
daemon thread (:class:`EventLoopThread`), so flyte's client never runs on the kernel's loop and
flyte's global ``flyte.init`` state is never touched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from typing import TYPE_CHECKING, Any

from flyte_jupyter.errors import LaunchError
from flyte_jupyter.launch.cluster import require_endpoint, split_endpoint

if TYPE_CHECKING:
    from collections.abc import Coroutine

    from flyte_jupyter.launch.model import Status
    from flyte_jupyter.settings import Settings

__all__ = [
    "PHASES",
    "PHASE_NAMES",
    "RPC_TIMEOUT",
    "EventLoopThread",
    "code_of",
    "explain",
    "unreachable",
    "v2_platform",
]

RPC_TIMEOUT = 30.0
"""Seconds a unary call may take before the launch or refresh fails with a message."""

# flyteidl2.common.phase_pb2.ActionPhase -> run status
PHASES: dict[int, Status] = {
    1: "QUEUED",
    2: "QUEUED",  # waiting for resources
    3: "RUNNING",  # initializing
    4: "RUNNING",
    5: "SUCCEEDED",
    6: "FAILED",
    7: "ABORTED",
    8: "FAILED",  # timed out
    9: "RUNNING",  # paused
    10: "SUCCEEDED",  # recovered
}
PHASE_NAMES = {
    0: "UNSPECIFIED",
    1: "QUEUED",
    2: "WAITING_FOR_RESOURCES",
    3: "INITIALIZING",
    4: "RUNNING",
    5: "SUCCEEDED",
    6: "FAILED",
    7: "ABORTED",
    8: "TIMED_OUT",
    9: "PAUSED",
    10: "RECOVERED",
}
_HOW_TO_CONFIGURE = (
    "set endpoint (FLYTE_JUPYTER_ENDPOINT=dns:///flyte.example.com, endpoint = ... under "
    "[tool.flyte_jupyter] in pyproject.toml, or %config FlyteJupyter.endpoint) or write a flyte "
    "config file with admin.endpoint (`flyte create config --endpoint flyte.example.com`, found "
    "via FLYTECTL_CONFIG or at ~/.flyte/config.yaml)"
)


def v2_platform(settings: Settings) -> Any:
    """Flyte's ``PlatformConfig`` for the settings: the config file's, with ``endpoint`` on top.

    An endpoint written ``http://host:port`` is plaintext (``insecure``); ``https://...`` is
    TLS; otherwise the config file's ``admin.insecure`` says.

    Raises
    ------
    LaunchError
        No endpoint is configured, or the config file cannot be read.
    """
    configured = require_endpoint(
        settings, "A flyte v2 task on the remote backend", "flyte config file", _HOW_TO_CONFIGURE
    )
    from flyte.config import auto

    try:
        config = auto(settings.config_file) if settings.config_file else auto()
    except Exception as exc:
        msg = f"Cannot read the flyte config file {settings.config_file}: {exc}"
        raise LaunchError(msg) from exc
    host, insecure = split_endpoint(configured)
    target = host if host.startswith("dns:///") else f"dns:///{host}"
    platform = dataclasses.replace(config.platform, endpoint=target)
    if insecure is not None:
        platform = dataclasses.replace(platform, insecure=insecure)
    return platform


def _connect_error(exc: BaseException) -> Any:
    """The ``ConnectError`` in ``exc``'s chain (flyte may wrap it), or None."""
    from connectrpc.errors import ConnectError

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def unreachable(exc: BaseException) -> bool:
    """True when ``exc`` says the control plane could not be reached (not that it refused)."""
    error = _connect_error(exc)
    if error is not None:
        return error.code.name in ("UNAVAILABLE", "DEADLINE_EXCEEDED")
    return isinstance(exc, (OSError, TimeoutError)) or "connect" in type(exc).__name__.lower()


def explain(exc: BaseException, action: str, endpoint: str) -> str:
    """A message for a failed call: what was being done, where, and what the server said."""
    error = _connect_error(exc)
    if error is None or unreachable(exc):
        detail = getattr(error, "message", None) or str(exc) or type(exc).__name__
        return (
            f"Cannot reach the Flyte control plane at {endpoint} to {action}: {detail}. Check "
            "the endpoint, that the cluster is up, and admin.insecure (true for a plaintext "
            "endpoint) in the flyte config file."
        )
    name = error.code.name
    message = (
        f"The Flyte control plane at {endpoint} refused to {action}: {error.message} ({name})."
    )
    if name in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        message += " Check the credentials of the flyte config file (or FLYTE_API_KEY)."
    return message


def code_of(exc: BaseException) -> str | None:
    """The Connect code name of a refused call (``ALREADY_EXISTS``), None otherwise."""
    error = _connect_error(exc)
    return None if error is None else str(error.code.name)


class EventLoopThread:
    """One event loop in a daemon thread: where every call of the launcher's client runs."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="flyte-jupyter-v2-remote", daemon=True
        )
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float | None) -> Any:
        """``coro``'s result, awaited on the loop (at most ``timeout`` s: ``TimeoutError``)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Start ``coro`` on the loop; its ``concurrent.futures.Future``."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)
