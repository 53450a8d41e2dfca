"""Retry policy: transient errors retried with backoff, permanent ones raised at once."""

from __future__ import annotations

import errno
import logging
import uuid

import pytest
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from flyte_jupyter.errors import StoreError
from flyte_jupyter.store import open_store
from flyte_jupyter.store.retry import call_with_retries, is_transient

DIGEST = "abad1dea" * 8


def client_error(code, status):
    response = {
        "Error": {"Code": code, "Message": code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "PutObject")


def translated(code, status, exc_type=OSError, *args):
    """What s3fs raises: a Python error whose cause is the botocore ClientError."""
    exc = exc_type(*args)
    exc.__cause__ = client_error(code, status)
    return exc


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionError("reset"),
        ConnectionRefusedError(),
        TimeoutError(),
        EndpointConnectionError(endpoint_url="http://x"),
        ReadTimeoutError(endpoint_url="http://x"),
        client_error("SlowDown", 503),
        client_error("Throttling", 400),
        client_error("InternalError", 500),
        translated("SlowDown", 503, OSError, errno.EBUSY, "SlowDown"),
        translated("InternalError", 500, OSError, errno.EIO, "boom"),
        OSError(errno.EBUSY, "busy"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transient(exc):
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        FileNotFoundError("NoSuchBucket"),
        PermissionError("AccessDenied"),
        NoCredentialsError(),
        client_error("AccessDenied", 403),
        client_error("NoSuchKey", 404),
        translated("AccessDenied", 403, PermissionError, "denied"),
        ValueError("bad"),
        OSError(errno.EINVAL, "bad request"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_permanent(exc):
    assert not is_transient(exc)


class Flaky:
    """Fails ``failures`` times with ``exc``, then returns ``value``."""

    def __init__(self, failures, exc, value="ok"):
        self.failures = failures
        self.exc = exc
        self.value = value
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.exc
        return self.value


def test_retries_with_exponential_backoff(caplog):
    sleeps = []
    func = Flaky(3, ConnectionError("reset"))
    with caplog.at_level(logging.WARNING):
        result = call_with_retries(
            func, what="upload x", retries=4, backoff=0.5, sleep=sleeps.append
        )
    assert result == "ok"
    assert func.calls == 4
    assert sleeps == [0.5, 1.0, 2.0]
    assert "upload x failed (ConnectionError: reset); retry 1 of 4 in 0.50 s" in caplog.text


def test_gives_up_after_retries():
    sleeps = []
    func = Flaky(10, TimeoutError("slow"))
    with pytest.raises(TimeoutError):
        call_with_retries(func, what="x", retries=2, backoff=0.1, sleep=sleeps.append)
    assert func.calls == 3
    assert sleeps == [0.1, 0.2]


def test_permanent_raised_at_once():
    sleeps = []
    func = Flaky(1, PermissionError("denied"))
    with pytest.raises(PermissionError):
        call_with_retries(func, what="x", retries=4, backoff=0.1, sleep=sleeps.append)
    assert func.calls == 1
    assert sleeps == []


def test_zero_retries():
    func = Flaky(1, ConnectionError())
    with pytest.raises(ConnectionError):
        call_with_retries(func, what="x", retries=0, backoff=0.1, sleep=lambda _: None)
    assert func.calls == 1


class FlakyFs:
    """Wraps an fsspec file system; ``put_file`` fails with the queued exceptions first."""

    def __init__(self, fs, errors):
        self._fs = fs
        self.errors = list(errors)
        self.put_calls = 0

    def put_file(self, *args, **kwargs):
        self.put_calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return self._fs.put_file(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._fs, name)


def memory_store(tmp_path, errors):
    store = open_store(f"memory://r{uuid.uuid4().hex}", home=tmp_path, backoff=0)
    flaky = FlakyFs(store._transport.fs, errors)
    store._transport.fs = flaky
    return store, flaky


def test_store_retries_transient_upload_errors(tmp_path, archive):
    store, flaky = memory_store(tmp_path, [ConnectionError("reset"), TimeoutError("slow")])
    assert not store.publish(archive, DIGEST).reused
    assert flaky.put_calls == 3
    assert store.exists(DIGEST)


def test_store_raises_access_denied_at_once(tmp_path, archive):
    # moto also produces a real AccessDenied (test_s3.py); this checks the translation alone.
    store, flaky = memory_store(tmp_path, [PermissionError("Access Denied")])
    with pytest.raises(StoreError) as info:
        store.publish(archive, DIGEST)
    assert flaky.put_calls == 1
    message = str(info.value)
    assert message.startswith(f"Access denied to publish to {store.url}")
    assert "choose another store URL" in message
    assert store._index.get(store._index_key, DIGEST) is None


def test_store_gives_up_on_endless_transient_errors(tmp_path, archive):
    store, flaky = memory_store(tmp_path, [ConnectionError("reset")] * 10)
    store.retries = 2
    with pytest.raises(StoreError, match="Cannot reach"):
        store.publish(archive, DIGEST)
    assert flaky.put_calls == 3
