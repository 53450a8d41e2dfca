"""S3 specifics against moto: request counts, multipart, errors from a real endpoint."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket

import boto3
import pytest

from flyte_jupyter.errors import StoreError
from flyte_jupyter.progress import Progress
from flyte_jupyter.store import open_store

BUCKET = "bundles"  # created by the s3 fixture
DIGEST = "feedbeef" * 8
NAME = f"fast{DIGEST}.tar.gz"
MIB = 1024 * 1024


@pytest.fixture
def store(s3, tmp_path):
    return open_store(
        f"s3://{BUCKET}/p", home=tmp_path / "home", storage_options={"endpoint_url": s3.endpoint}
    )


def methods(s3):
    return [method for method, _ in s3.counter.requests]


def test_request_counts(s3, store, archive, tmp_path):
    s3.counter.reset()
    assert not store.publish(archive, DIGEST).reused
    # list, sidecar, object (in that order); then, first upload from this home, the sweep of
    # killed uploads' leftovers: list multipart uploads, list the prefix
    assert methods(s3) == ["GET", "PUT", "PUT", "GET", "GET"]
    assert s3.counter.requests[1][1].endswith(".sha256")

    s3.counter.reset()
    assert not store.publish(archive, "other").reused
    assert methods(s3) == ["GET", "PUT", "PUT"]  # swept at most once a day

    s3.counter.reset()
    assert store.publish(archive, DIGEST).reused
    assert methods(s3) == []  # fresh index entry: no network at all

    s3.counter.reset()
    assert store.publish(archive, DIGEST, verify=True).reused
    assert methods(s3) == ["GET"]  # one existence check

    stale = open_store(
        store.url,
        home=tmp_path / "home",
        storage_options={"endpoint_url": s3.endpoint},
        verify_after=0,
    )
    s3.counter.reset()
    assert stale.publish(archive, DIGEST).reused
    assert methods(s3) == ["GET"]

    fresh_index = open_store(
        store.url, home=tmp_path / "other", storage_options={"endpoint_url": s3.endpoint}
    )
    s3.counter.reset()
    assert fresh_index.publish(archive, DIGEST).reused
    assert methods(s3) == ["GET"]

    s3.counter.reset()
    assert store.exists(DIGEST)
    assert methods(s3) == ["GET"]


def test_multipart_upload(s3, store, tmp_path):
    archive = tmp_path / "big.tar.gz"
    archive.write_bytes(os.urandom(11 * MIB))
    store._transport.chunksize = 5 * MIB
    calls = []
    s3.counter.reset()
    progress = Progress(lambda _phase, d, t: calls.append((d, t)))
    published = store.publish(archive, DIGEST, progress=progress)
    assert methods(s3)[:7] == ["GET", "PUT", "POST", "PUT", "PUT", "PUT", "POST"]
    assert calls[-1] == (11 * MIB, 11 * MIB)
    assert len(calls) >= 4  # set_size + one update per part
    out = store.fetch(DIGEST, tmp_path / "back.tar.gz")
    assert hashlib.sha256(out.read_bytes()).hexdigest() == published.sha256


def test_transient_5xx_is_retried(s3, store, archive, caplog):
    # botocore's retries are off by default and s3fs does not retry InternalError: ours does.
    s3.counter.faults.append(("PUT", 500, "InternalError"))
    store.backoff = 0.01
    with caplog.at_level(logging.WARNING, logger="flyte_jupyter.store.retry"):
        assert not store.publish(archive, DIGEST).reused
    assert "retry 1 of 4" in caplog.text
    assert store.exists(DIGEST)


def test_slowdown_is_retried(s3, store, archive):
    s3.counter.faults.extend([("PUT", 503, "SlowDown")] * 2)
    store.backoff = 0.01
    assert not store.publish(archive, DIGEST).reused
    assert store.exists(DIGEST)


def test_permanent_error_not_retried(s3, store, archive, caplog):
    s3.counter.faults.append(("PUT", 403, "AccessDenied"))
    with pytest.raises(StoreError, match="Access denied") as info:
        store.publish(archive, DIGEST)
    assert f"s3://{BUCKET}/p" in str(info.value)
    assert "retry" not in caplog.text
    assert methods(s3) == ["GET", "PUT"]  # list, then the refused sidecar PUT: nothing more


def test_bucket_not_found(s3, tmp_path, archive):
    store = open_store(
        "s3://no-such-bucket/p",
        home=tmp_path,
        storage_options={"endpoint_url": s3.endpoint},
    )
    for call in (
        lambda: store.publish(archive, DIGEST),
        lambda: store.exists(DIGEST),
        lambda: store.fetch(DIGEST, tmp_path / "x"),
    ):
        with pytest.raises(StoreError) as info:
            call()
        message = str(info.value)
        assert "s3://no-such-bucket/p" in message
        assert "does not exist" in message
        assert "aws s3 mb s3://no-such-bucket" in message
    assert not (tmp_path / "x").exists()


def test_access_denied_from_moto_iam(s3, tmp_path, archive):
    iam = boto3.client("iam", endpoint_url=s3.endpoint, region_name="us-east-1")
    iam.create_user(UserName="reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"], "Resource": "*"}
        ],
    }
    iam.put_user_policy(UserName="reader", PolicyName="ro", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    s3.set_auth("0")
    try:
        store = open_store(
            f"s3://{BUCKET}/p",
            home=tmp_path,
            storage_options={
                "endpoint_url": s3.endpoint,
                "key": key["AccessKeyId"],
                "secret": key["SecretAccessKey"],
            },
        )
        assert not store.exists(DIGEST)  # listing is allowed
        with pytest.raises(StoreError) as info:
            store.publish(archive, DIGEST)  # writing is not
    finally:
        s3.set_auth("inf")
    message = str(info.value)
    assert message.startswith(f"Access denied to publish to s3://{BUCKET}/p")
    assert "s3:PutObject" in message
    assert (
        not (tmp_path / "index.sqlite").exists()
        or store._index.get(store._index_key, DIGEST) is None
    )


def test_missing_credentials(s3, tmp_path, archive, monkeypatch):
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    store = open_store(
        f"s3://{BUCKET}/p", home=tmp_path, storage_options={"endpoint_url": s3.endpoint}
    )
    with pytest.raises(StoreError) as info:
        store.publish(archive, DIGEST)
    message = str(info.value)
    assert f"s3://{BUCKET}/p" in message
    assert "No credentials found" in message
    assert "AWS_ACCESS_KEY_ID" in message


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.usefixtures("aws_env")
def test_unreachable_endpoint(tmp_path, archive, caplog):
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    store = open_store(
        f"s3://{BUCKET}/p",
        home=tmp_path,
        storage_options={"endpoint_url": endpoint},
        retries=2,
        backoff=0.01,
    )
    with caplog.at_level(logging.WARNING), pytest.raises(StoreError) as info:
        store.publish(archive, DIGEST)
    message = str(info.value)
    assert f"Cannot reach {endpoint}" in message
    assert f"s3://{BUCKET}/p" in message
    assert "endpoint_url" in message
    assert caplog.text.count("EndpointConnectionError") == 2  # retried twice, then raised


def test_store_at_bucket_root(s3, tmp_path, archive):
    store = open_store(
        f"s3://{BUCKET}", home=tmp_path, storage_options={"endpoint_url": s3.endpoint}
    )
    assert not store.exists(DIGEST)
    published = store.publish(archive, DIGEST)
    assert published.uri == f"s3://{BUCKET}/{NAME}"
    assert store.exists(DIGEST)
    store.fetch(DIGEST, tmp_path / "back")
    assert (tmp_path / "back").read_bytes() == archive.read_bytes()


def test_s3_stays_s3fs_after_flyte_v2_registers_obstore_for_it(s3, archive, tmp_path):
    # ``import flyte.storage`` (any notebook defining v2 tasks) registers obstore for s3://
    # in fsspec's registry; obstore refuses s3fs's option names ("key is not valid")
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "after_flyte.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import fsspec, sys
            import flyte.storage  # noqa: F401
            assert "obstore" in fsspec.get_filesystem_class("s3").__module__
            from flyte_jupyter.store import open_store
            store = open_store(
                "s3://{BUCKET}/p", home=sys.argv[1],
                storage_options={{"endpoint_url": "{s3.endpoint}", "key": "testing",
                                  "secret": "testing"}},
            )
            from pathlib import Path
            print(store.publish(Path(sys.argv[2]), "{DIGEST}").uri)
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "home"), str(archive)],
        capture_output=True,
        text=True,
        env={**os.environ, "DO_NOT_TRACK": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith(f"s3://{BUCKET}/p/{NAME}")
    assert s3.fs.cat_file(f"{BUCKET}/p/{NAME}") == archive.read_bytes()
