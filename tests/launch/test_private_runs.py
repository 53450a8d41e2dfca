"""A run's files are private and hold no secret; the run still gets every credential it needs."""

import json
import os
import stat

import pytest
from shell_helpers import run_cell

from flyte_jupyter.launch import RunStore
from flyte_jupyter.redaction import REDACTED

pytestmark = pytest.mark.slow

S3_KEY = "AKIAFJPRIVATE0001"
S3_SECRET = "fj-s3-secret-value-0042"  # noqa: S105 - the bait the files must not hold
API_TOKEN = "fj-api-token-0099"  # noqa: S105
DEFS = """
import os
from flytekit import task

@task
def env_of(names: str) -> str:
    return ",".join(f"{n}={len(os.environ.get(n, ''))}" for n in names.split(","))
"""


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.fixture
def loose_umask():
    """Files and folders must be private whatever the umask."""
    old = os.umask(0)
    yield
    os.umask(old)


@pytest.fixture
def s3_credentials(s3_bucket, monkeypatch):
    """The kernel starts with S3 credentials in its environment."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", S3_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", S3_SECRET)
    return s3_bucket


@pytest.mark.usefixtures("loose_umask")
def test_an_s3_run_gets_its_credentials_but_its_files_are_private_and_hold_none(
    s3_credentials, ip, tmp_path, monkeypatch
):
    endpoint, bucket = s3_credentials
    home = tmp_path / "home"
    home.mkdir(mode=0o755)  # an existing, open home (as earlier versions made it)
    os.chmod(home, 0o755)
    monkeypatch.setenv("FLYTE_JUPYTER_STORE", f"s3://{bucket}/nb")
    options = {"endpoint_url": endpoint, "key": S3_KEY, "secret": S3_SECRET}
    monkeypatch.setenv("FLYTE_JUPYTER_STORAGE_OPTIONS", json.dumps(options))
    run_cell(ip, DEFS, cell_id="defs")
    # dropped statements that carry secrets: bundle.json (and the run page) must not
    run_cell(ip, f"%env AWS_SECRET_ACCESS_KEY={S3_SECRET}\nx = 1\nx\n", cell_id="magic")
    run_cell(ip, f"print('{API_TOKEN}'[:0])\n", cell_id="side-effect")
    names = "API_TOKEN,AWS_SECRET_ACCESS_KEY,FLYTE_AWS_SECRET_ACCESS_KEY,FLYTE_AWS_ENDPOINT"
    run = ip.run_line_magic(
        "flyte_run", f"--wait --env API_TOKEN={API_TOKEN} env_of(names='{names}')"
    )
    assert run.status == "SUCCEEDED", run.logs()
    # the task saw the settings' env and the store's credentials (it read its bundle from S3)
    assert run.outputs == (
        f"API_TOKEN={len(API_TOKEN)},AWS_SECRET_ACCESS_KEY={len(S3_SECRET)},"
        f"FLYTE_AWS_SECRET_ACCESS_KEY={len(S3_SECRET)},FLYTE_AWS_ENDPOINT={len(endpoint)}"
    )

    run_dir = home / "runs" / run.id
    assert mode(home) == 0o700
    assert mode(home / "runs") == 0o700
    assert mode(run_dir) == 0o700
    assert mode(home / "cache") == 0o700  # archives and caches
    for name in ("command.json", "bundle.json", "inputs.pb", "run.log"):
        assert mode(run_dir / name) == 0o600, name
    for name in ("runs.sqlite", "index.sqlite"):
        assert mode(home / name) == 0o600, name
    assert all(mode(lock) == 0o600 for lock in (home / "slots").iterdir())

    bundle = json.loads((run_dir / "bundle.json").read_text())
    dropped = [d["code"] for d in bundle["dropped"]]
    assert "%env AWS_SECRET_ACCESS_KEY=***" in dropped
    assert "print('***'[:0])" in dropped
    command = json.loads((run_dir / "command.json").read_text())
    on_disk = (run_dir / "command.json").read_text() + (run_dir / "bundle.json").read_text()
    for secret in (S3_SECRET, API_TOKEN):
        assert secret not in on_disk
    env = command["env"]
    assert env["API_TOKEN"] == REDACTED
    assert env["FLYTE_AWS_SECRET_ACCESS_KEY"] == REDACTED
    assert env["FLYTE_AWS_ENDPOINT"] == endpoint  # not a secret: recorded as is
    assert env["FLYTE_INTERNAL_EXECUTION_ID"] == run.id
    # only what the run adds: not the kernel's environment (PATH, HOME, AWS_*)
    assert "PATH" not in env
    assert "AWS_SECRET_ACCESS_KEY" not in env
    assert "supervisor received it" in command["env_note"]
    assert RunStore(home / "runs.sqlite").get(run.id).status == "SUCCEEDED"
