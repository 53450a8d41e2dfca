"""Nothing secret a run's folder or record holds reaches its page or the runs API."""

import json
import re
from html import unescape
from pathlib import Path

import pytest
from server_helpers import make_record

from flyte_jupyter.launch.runstore import RunStore

RUN_ID = "fsecrets000000000008"
STORAGE = {"key": "AKIA-srv-secret-01", "secret": "s3-srv-secret-02", "endpoint_url": "http://e:9"}
SECRETS = (
    "AKIA-srv-secret-01",
    "s3-srv-secret-02",
    "pg-srv-secret-03",
    "tok-srv-secret-04",
    "argv-srv-secret-05",
    "env-srv-secret-06",
    "pass-srv-secret-07",
    "src-srv-secret-08",
    "bearer-srv-secret-09",
    "in-srv-secret-10",
)


@pytest.fixture
def secret_run(home):
    """A run whose files were written before redaction existed: everything in clear."""
    record = make_record(
        home,
        RUN_ID,
        status="FAILED",
        outputs=None,
        inputs={"password": "in-srv-secret-10", "x": "7"},
        error="cannot reach postgres://bob:pg-srv-secret-03@db/x with tok-srv-secret-04",
    )
    store = RunStore(home / "runs.sqlite")
    store.add(record, message="submitted with Bearer bearer-srv-secret-09")
    run_dir = Path(record.run_dir)
    command = {
        "argv": [
            "pyflyte-fast-execute",
            "--additional-distribution",
            "s3://u:argv-srv-secret-05@b/x",
        ],
        "env": {
            "FLYTE_JUPYTER_STORAGE_OPTIONS": json.dumps(STORAGE),
            "DB_URL": "postgres://bob:pg-srv-secret-03@db/x",
            "MY_API_TOKEN": "tok-srv-secret-04",
            "LOG_LEVEL": "debug",
        },
        "cwd": str(run_dir / "work"),
        "max_parallel": 1,
    }
    (run_dir / "command.json").write_text(json.dumps(command), encoding="utf-8")
    dropped = [
        "%env AWS_SECRET_ACCESS_KEY=env-srv-secret-06",
        "!export DB_PASS=pass-srv-secret-07",
        "print('tok-srv-secret-04', 's3-srv-secret-02')",
        "print('level debug')",
    ]
    bundle = {
        "digest": "ab" * 32,
        "module": "nb_demo",
        "files": [{"path": "nb_demo.py", "size": 12, "mode": "644"}],
        "source": 'API_TOKEN = "src-srv-secret-08"\nLEVEL = "debug"\n',
        "dropped": [
            {"cell": "cell [1]", "line": n, "code": code, "reason": "magic"}
            for n, code in enumerate(dropped, start=1)
        ],
        "excluded": [],
    }
    (run_dir / "bundle.json").write_text(json.dumps(bundle), encoding="utf-8")
    (run_dir / "run.log").write_text(
        "using tok-srv-secret-04 and s3-srv-secret-02\n"
        "Authorization: Bearer bearer-srv-secret-09\n"
        "connected to postgres://bob:pg-srv-secret-03@db/x\n"
        "square says 49\n",
        encoding="utf-8",
    )
    return record


def assert_no_secret(text, where):
    for secret in SECRETS:
        assert secret not in text, (where, secret)


@pytest.mark.usefixtures("secret_run")
async def test_run_page_hides_every_secret_and_keeps_the_rest(jp_fetch):
    response = await jp_fetch("flyte-jupyter", "runs", RUN_ID)
    html = response.body.decode()
    assert_no_secret(html, "page")
    for shown in (
        "square says 49",  # the log
        "LOG_LEVEL",
        "debug",
        "http://e:9",  # the storage options' endpoint
        "%env AWS_SECRET_ACCESS_KEY=***",
        "postgres://bob:***@db/x",
        "print(&#39;level debug&#39;)",
        "LEVEL = &#34;debug&#34;",
    ):
        # the generated module is highlighted: its text is split into spans, quotes as &quot;
        assert shown in html or unescape(shown) in unescape(re.sub(r"<[^>]+>", "", html)), shown


@pytest.mark.usefixtures("secret_run")
async def test_runs_api_hides_every_secret(jp_fetch):
    one = (await jp_fetch("flyte-jupyter", "api", "runs", RUN_ID)).body.decode()
    listed = (await jp_fetch("flyte-jupyter", "api", "runs")).body.decode()
    logs = (await jp_fetch("flyte-jupyter", "api", "runs", RUN_ID, "logs")).body.decode()
    for where, text in (("run", one), ("list", listed), ("logs", logs)):
        assert_no_secret(text, where)
    assert json.loads(one)["inputs"] == {"password": "***", "x": "7"}
    assert "square says 49" in json.loads(logs)["text"]
    assert "postgres://bob:***@db/x" in json.loads(one)["error"]
