"""Secrets never show: the redaction rules, and %flyte_bundle / %flyte_settings in a real shell."""

import json

import pytest
from shell_helpers import run_cell

from flyte_jupyter.redaction import REDACTED, Redactor, looks_secret, redact, redact_text

# Each value below is a secret that some cell, variable or option carries; none may show.
STORAGE = {"key": "AKIA-secret-0005", "secret": "s3-secret-0006", "endpoint_url": "http://e:9"}


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("%env AWS_SECRET_ACCESS_KEY=abc123secret", "%env AWS_SECRET_ACCESS_KEY=***"),
        ("%env AWS_SECRET_ACCESS_KEY abc123secret", "%env AWS_SECRET_ACCESS_KEY ***"),
        ("%set_env API_TOKEN abc123secret", "%set_env API_TOKEN ***"),
        (
            "%%flyte_run --env API_TOKEN=abc123 --env X=1",
            "%%flyte_run --env API_TOKEN=*** --env X=1",
        ),
        ("!export DB_PASS=abc123 && ls", "!export DB_PASS=*** && ls"),
        ("!mysql --password abc123", "!mysql --password ***"),
        ('os.environ["GH_TOKEN"] = "abc123"', 'os.environ["GH_TOKEN"] = "***"'),
        ("os.environ.setdefault('DB_PWD', 'abc123')", "os.environ.setdefault('DB_PWD', '***')"),
        ("connect(password='abc123', user='bob')", "connect(password='***', user='bob')"),
        ("postgres://bob:abc123@db:5432/x", "postgres://bob:***@db:5432/x"),
        ("curl -H 'Authorization: token abc123'", "curl -H 'Authorization: ***'"),
        ("sent Bearer eyJhbGciOi.abc123 ok", "sent Bearer *** ok"),
        ('{"secret": "abc123", "region": "us"}', '{"secret": "***", "region": "us"}'),
        ("SENTRY_DSN=https://abc123@sentry.io/1", "SENTRY_DSN=***"),
        ("PWD=/home/u LOG_LEVEL=debug", "PWD=/home/u LOG_LEVEL=debug"),
        ("password = getpass()", "password = getpass()"),
        ("ghcr.io/org/token-service:v1", "ghcr.io/org/token-service:v1"),  # an image, not a key
        ("token: abc123", "token: ***"),
    ],
)
def test_text_rules(text, shown):
    assert redact_text(text) == shown
    assert redact_text(shown) == shown  # idempotent


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("DB_PASS", True),
        ("db_pwd", True),
        ("SENTRY_DSN", True),
        ("GOOGLE_APPLICATION_CREDENTIALS", True),
        ("FLYTE_JUPYTER_STORAGE_OPTIONS", True),
        ("AZURE_STORAGE_CONNECTION_STRING", True),
        ("PWD", False),
        ("OLDPWD", False),
        ("PASSPORT_OFFICE", False),
    ],
)
def test_more_key_names_look_secret(key, secret):
    assert looks_secret(key) is secret


def test_json_values_keep_what_is_not_secret():
    shown = redact("FLYTE_JUPYTER_STORAGE_OPTIONS", json.dumps(STORAGE))
    assert json.loads(shown) == {"key": REDACTED, "secret": REDACTED, "endpoint_url": "http://e:9"}
    assert redact("FLYTE_JUPYTER_STORAGE_OPTIONS", "not json") == REDACTED
    nested = redact("CONFIG", '{"db": {"url": "pg://u:pw1234@h", "password": "pw1234"}}')
    assert "pw1234" not in nested
    assert "pg://u:***@h" in nested


def test_values_of_secret_variables_are_hidden_anywhere():
    environ = {
        "MY_TOKEN": "tok-secret-0001",
        "FLYTE_JUPYTER_STORAGE_OPTIONS": json.dumps(STORAGE),
        "DATABASE_URL": "postgres://bob:pg-secret-0007@db/x",
        "SHORT_KEY": "1",  # too short to search for
        "SSH_AUTH_SOCK": "/",  # an existing path is not a secret
        "LOG_LEVEL": "debug",
    }
    redactor = Redactor.of(environ)
    assert redactor.values == {
        "tok-secret-0001",
        "AKIA-secret-0005",
        "s3-secret-0006",
        "pg-secret-0007",
    }
    text = "echo tok-secret-0001 s3-secret-0006 pg-secret-0007; level debug; 1 /"
    assert redactor.text(text) == "echo *** *** ***; level debug; 1 /"
    assert "***" not in repr(redactor)


@pytest.fixture
def secret_env(monkeypatch):
    """The kernel's environment holds secrets; the variables %env sets are restored after."""
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-secret-0004")
    monkeypatch.setenv("FLYTE_JUPYTER_STORAGE_OPTIONS", json.dumps(STORAGE))
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "placeholder")
    monkeypatch.setenv("API_TOKEN", "placeholder")


SECRETS = [
    "wJalr-secret-0001",
    "api-secret-0002",
    "pass-secret-0003",
    "ghp-secret-0004",
    "AKIA-secret-0005",
    "s3-secret-0006",
    "pg-secret-0007",
    "bearer-secret-0008",
]


@pytest.mark.usefixtures("secret_env")
def test_flyte_bundle_display_and_dropped_lines_hide_secrets(ip):
    run_cell(
        ip,
        "from flytekit import task\n"
        "%env AWS_SECRET_ACCESS_KEY=wJalr-secret-0001\n"
        "%set_env API_TOKEN api-secret-0002\n"
        "%env LOG_LEVEL=debug\n",
        cell_id="a",
    )
    run_cell(ip, "!export DB_PASS=pass-secret-0003 > /dev/null\n", cell_id="b")
    run_cell(
        ip,
        'print("ghp-secret-0004", "s3-secret-0006")\n'
        'print("postgres://bob:pg-secret-0007@db/x")\n'
        'print("Authorization: Bearer bearer-secret-0008")\n',
        cell_id="c",
    )
    run_cell(ip, "@task\ndef square(x: int) -> int:\n    return x * x\n", cell_id="d")
    bundle = run_cell(ip, "%flyte_bundle")
    shown = {
        "html": bundle._repr_html_(),
        "text": repr(bundle),
        "dropped": "\n".join(d.code for d in bundle.dropped),
    }
    for where, text in shown.items():
        for secret in SECRETS:
            assert secret not in text, (where, secret)
    dropped = shown["dropped"]
    assert "%env AWS_SECRET_ACCESS_KEY=***" in dropped
    assert "%env LOG_LEVEL=debug" in dropped  # not a secret: shown as typed
    assert "postgres://bob:***@db/x" in dropped
    assert "%env LOG_LEVEL=debug" in shown["html"]


def test_flyte_settings_hides_secrets_inside_other_values(ip):
    view = ip.run_line_magic(
        "flyte_settings", "--env API_TOKEN=tok-secret-0009 --env NOTE=uses:tok-secret-0009"
    )
    text = repr(view) + view._repr_html_()
    assert "tok-secret-0009" not in text
    assert "uses:***" in text


def test_what_the_store_logs_is_redacted(caplog):
    from flyte_jupyter.store.retry import call_with_retries

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            msg = "connection reset by https://bob:log-secret-0011@store.example/x"
            raise ConnectionResetError(msg)
        return "ok"

    caplog.set_level("WARNING", logger="flyte_jupyter")
    what = "upload to https://bob:log-secret-0011@store.example/fast1.tar.gz"
    assert call_with_retries(flaky, what=what, retries=1, backoff=0, sleep=lambda _: None) == "ok"
    assert "retry 1 of 1" in caplog.text
    assert "log-secret-0011" not in caplog.text
    assert "https://bob:***@store.example/fast1.tar.gz" in caplog.text


def test_the_run_summary_in_the_notebook_and_panel_hides_secrets():
    from flyte_jupyter.launch.model import RunRecord
    from flyte_jupyter.launch.run import run_html

    record = RunRecord(
        id="fredacted00000000001",
        backend="local",
        entity="square",
        flyte_name="nb.square",
        kind="task",
        project="p",
        domain="development",
        version="v1",
        status="FAILED",
        created_at=0.0,
        updated_at=0.0,
        inputs={"api_key": "in-secret-0012", "x": "7"},
        error="cannot reach postgres://bob:err-secret-0013@db/x",
    )
    html = run_html(record)
    assert "in-secret-0012" not in html
    assert "err-secret-0013" not in html
    assert "x=7" in html
    assert "postgres://bob:***@db/x" in html
