"""Retry transient bundle store errors with exponential backoff; raise permanent ones at once.

s3fs and botocore retry a few things themselves; this layer covers what is left over after
their retries (an endpoint that drops connections for a while, throttling that outlasts
botocore's budget) for each whole store step (probe, upload, download).
"""

from __future__ import annotations

import errno
import time
from typing import TYPE_CHECKING, Any, TypeVar

from flyte_jupyter.redaction import redacting_logger

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["call_with_retries", "is_transient"]

logger = redacting_logger(__name__)

T = TypeVar("T")

# botocore / aiohttp exception class names that mean "the network hiccupped". Matched by name
# so that this module never imports botocore (s3fs is imported lazily, by fsspec).
_TRANSIENT_CLASS_NAMES = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ResponseStreamingError",
        "IncompleteReadError",
        "ServerDisconnectedError",
        "ClientPayloadError",
    }
)
# S3 error codes that say "try again later".
_TRANSIENT_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "InternalError",
        "ServiceUnavailable",
        "RequestTimeout",
        "OperationAborted",
    }
)
# s3fs turns 503/SlowDown into EBUSY and 500 into EREMOTEIO (see s3fs.errors).
_TRANSIENT_ERRNOS = frozenset(
    {errno.EBUSY, errno.EAGAIN, errno.ETIMEDOUT, getattr(errno, "EREMOTEIO", errno.EIO)}
)
_HTTP_SERVER_ERROR = 500


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """Yield ``exc`` and its explicit causes (``raise ... from``), outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def _is_transient_one(exc: BaseException) -> bool | None:
    """Classify one exception: True transient, False permanent, None unknown."""
    if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
        return False
    names = {cls.__name__ for cls in type(exc).__mro__}
    if "NoCredentialsError" in names or "PartialCredentialsError" in names:
        return False
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return _is_transient_response(response)
    if isinstance(exc, (ConnectionError, TimeoutError)) or names & _TRANSIENT_CLASS_NAMES:
        return True
    if isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS:
        return True
    return None


def _is_transient_response(response: dict[str, Any]) -> bool:
    """Classify a botocore ``ClientError.response``: throttling and 5xx are transient."""
    code = str(response.get("Error", {}).get("Code", ""))
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    return code in _TRANSIENT_CODES or int(status) >= _HTTP_SERVER_ERROR


def is_transient(exc: BaseException) -> bool:
    """Tell whether ``exc`` (or what caused it) is worth retrying.

    Parameters
    ----------
    exc
        The exception raised by a store step.

    Returns
    -------
    bool
        True for connection failures, timeouts, throttling and 5xx answers; False for
        everything else (not found, access denied, missing credentials, bad input).
    """
    for one in _chain(exc):
        verdict = _is_transient_one(one)
        if verdict is not None:
            return verdict
    return False


def call_with_retries(
    func: Callable[[], T],
    *,
    what: str,
    retries: int,
    backoff: float,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``func``; on a transient error wait and call it again, at most ``retries`` times.

    Parameters
    ----------
    func
        The step to run; it must be safe to repeat (idempotent).
    what
        What the step does, for the log (e.g. ``"upload s3://b/fast1.tar.gz"``).
    retries
        How many times to retry after the first attempt (0: no retry).
    backoff
        First wait in seconds; each further wait doubles it.
    sleep
        How to wait (injectable for tests).

    Returns
    -------
    T
        What ``func`` returned.
    """
    attempt = 0
    while True:
        try:
            return func()
        except Exception as exc:  # noqa: PERF203 - a retry loop; the cost is nothing next to I/O
            if attempt >= retries or not is_transient(exc):
                raise
            delay = backoff * 2**attempt
            attempt += 1
            logger.warning(
                "%s failed (%s: %s); retry %d of %d in %.2f s",
                what,
                type(exc).__name__,
                exc,
                attempt,
                retries,
                delay,
            )
            sleep(delay)
