"""Local runs execute only the archive the kernel built, whatever the store holds meanwhile."""

import io
import json
import tarfile
from pathlib import Path

import pytest
from shell_helpers import run_cell

from flyte_jupyter.launch import RunStore

pytestmark = pytest.mark.slow

DEFS = """
from flytekit import task

@task
def square(x: int) -> int:
    return x * x
"""
EVIL = """
from flytekit import task

@task
def square(x: int) -> int:
    return 666
"""


@pytest.fixture
def nb(ip):
    run_cell(ip, DEFS, cell_id="defs")
    return ip


def other_code_archive() -> bytes:
    """A valid tar.gz of the same module name with other code in it."""
    data = EVIL.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("nb_my_analysis.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def stored_path(run) -> Path:
    _, uri = run.bundle
    return Path(uri.removeprefix("file://"))


def record(tmp_path, run):
    return RunStore(tmp_path / "home" / "runs.sqlite").get(run.id)


def test_an_archive_replaced_in_the_store_is_not_executed(nb, tmp_path):
    first = nb.run_line_magic("flyte_run", "--wait square(x=2)")
    assert first.outputs == 4, first.logs()
    stored = stored_path(first)
    built = stored.read_bytes()
    sidecar = stored.with_name(stored.name + ".sha256").read_bytes()
    stored.write_bytes(other_code_archive())  # sidecar untouched: the index is fresh too

    second = nb.run_line_magic("flyte_run", "--wait square(x=3)")
    assert second.status == "SUCCEEDED", second.logs()
    assert second.outputs == 9  # the kernel's code ran, not the replacement
    assert "did not match what this kernel built; it was re-uploaded" in second.logs()
    assert record(tmp_path, second).extra["bundle_note"].endswith("it was re-uploaded")
    assert stored.read_bytes() == built  # the store holds the built archive again
    assert stored.with_name(stored.name + ".sha256").read_bytes() == sidecar


def test_a_replacement_with_a_matching_sidecar_is_not_executed_either(nb):
    import hashlib

    first = nb.run_line_magic("flyte_run", "--wait square(x=2)")
    stored = stored_path(first)
    evil = other_code_archive()
    stored.write_bytes(evil)  # whoever can write the archive can write its sidecar
    stored.with_name(stored.name + ".sha256").write_text(
        f"{hashlib.sha256(evil).hexdigest()}  {stored.name}\n"
    )
    second = nb.run_line_magic("flyte_run", "--wait square(x=5)")
    assert second.outputs == 25, second.logs()


def test_flipped_bytes_in_the_store_are_repaired_not_a_raw_exit_code(nb):
    first = nb.run_line_magic("flyte_run", "--wait square(x=2)")
    stored = stored_path(first)
    built = stored.read_bytes()
    damaged = bytearray(built)
    damaged[len(damaged) // 2] ^= 0xFF
    stored.write_bytes(bytes(damaged))

    second = nb.run_line_magic("flyte_run", "--wait square(x=4)")
    assert second.status == "SUCCEEDED", second.logs()
    assert second.outputs == 16
    assert "it was re-uploaded" in second.logs()
    assert "exit code" not in second.logs()
    assert stored.read_bytes() == built


def test_with_the_kernels_copy_damaged_too_nothing_runs_and_the_error_says_what_to_do(nb, tmp_path):
    from flyte_jupyter.errors import LaunchError
    from flyte_jupyter.launch.fetch import fetch_verified

    first = nb.run_line_magic("flyte_run", "--wait square(x=2)")
    stored = stored_path(first)
    stored.write_bytes(other_code_archive())
    command = json.loads((Path(record(tmp_path, first).run_dir) / "command.json").read_text())
    entry = command["bundle"]
    Path(entry["cache"]).write_bytes(b"not the archive either")
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(LaunchError) as info:  # what the supervisor meets before starting
        fetch_verified(entry, dest, command["env"], tmp_path / "home")
    message = str(info.value)
    assert "does not match what the kernel built" in message
    assert "Run the cell again" in message
    assert list(dest.iterdir()) == []  # nothing of the replacement was kept, let alone run

    again = nb.run_line_magic("flyte_run", "--wait square(x=3)")  # what the error says to do
    assert again.status == "SUCCEEDED", again.logs()
    assert again.outputs == 9


def test_a_local_run_from_s3_checks_the_object_it_downloads(nb, s3_bucket, monkeypatch):
    import boto3

    endpoint, bucket = s3_bucket
    monkeypatch.setenv("FLYTE_JUPYTER_STORE", f"s3://{bucket}/nb")
    monkeypatch.setenv("FLYTE_JUPYTER_STORAGE_OPTIONS", json.dumps({"endpoint_url": endpoint}))
    first = nb.run_line_magic("flyte_run", "--wait square(x=2)")
    assert first.outputs == 4, first.logs()
    _, uri = first.bundle
    key = uri.removeprefix(f"s3://{bucket}/")
    client = boto3.client("s3", endpoint_url=endpoint)
    built = client.get_object(Bucket=bucket, Key=key)["Body"].read()
    client.put_object(Bucket=bucket, Key=key, Body=other_code_archive())

    second = nb.run_line_magic("flyte_run", "--wait square(x=7)")
    assert second.outputs == 49, second.logs()
    assert "it was re-uploaded" in second.logs()
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == built


@pytest.mark.parametrize("magic", ["flyte_bundle --upload", "flyte_serialize --folder out"])
def test_upload_and_serialize_re_check_a_deleted_s3_object(nb, s3_bucket, monkeypatch, magic):
    import boto3

    endpoint, bucket = s3_bucket
    monkeypatch.setenv("FLYTE_JUPYTER_STORE", f"s3://{bucket}/nb")
    monkeypatch.setenv("FLYTE_JUPYTER_STORAGE_OPTIONS", json.dumps({"endpoint_url": endpoint}))
    bundle = nb.run_line_magic("flyte_bundle", "--upload")
    key = bundle.uri.removeprefix(f"s3://{bucket}/")
    client = boto3.client("s3", endpoint_url=endpoint)
    client.delete_object(Bucket=bucket, Key=key)  # someone cleaned the bucket; the index is fresh

    result = nb.run_line_magic(*magic.split(" ", 1))
    if magic.startswith("flyte_bundle"):
        assert result.reused is False  # it was sent again, not reported as reused
    client.head_object(Bucket=bucket, Key=key)  # the object is back
