"""Secret redaction, current_domain(), the trait table and import hygiene."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

import flyte_jupyter.settings as settings_pkg
from flyte_jupyter.redaction import REDACTED, looks_secret, redact_url
from flyte_jupyter.settings import (
    FIELD_SPECS,
    TRAIT_SPECS,
    Settings,
    activate,
    activated,
    active_settings,
    current_domain,
    describe,
    describe_text,
    replace_settings,
)

SECRET_VALUES = ["hunter2-token", "minio-key", "s3cr3t-value", "pw-9876"]


@pytest.fixture
def secret_settings(resolve, home, write):
    write(
        home / ".flyte" / "config.yaml",
        """
        storage:
          connection:
            endpoint: http://localhost:30002
            access-key: minio-key
            secret-key: s3cr3t-value
        """,
    )
    return resolve(
        options={
            "env": ["API_TOKEN=hunter2-token", "LOG_LEVEL=debug"],
            "store": "s3://user:pw-9876@minio.local:9000/bucket",
        }
    )


def test_repr_hides_secrets(secret_settings):
    text = repr(secret_settings)
    for secret in SECRET_VALUES:
        assert secret not in text
    assert "'API_TOKEN': '***'" in text
    assert "'LOG_LEVEL': 'debug'" in text
    assert "user:***@minio.local:9000" in text
    assert str(secret_settings) == text


def test_describe_hides_secrets(secret_settings):
    rows = describe(secret_settings)
    flat = " ".join(" ".join(row) for row in rows)
    for secret in SECRET_VALUES:
        assert secret not in flat
    assert ("env.API_TOKEN", REDACTED, "option --env") in rows
    assert ("env.LOG_LEVEL", "debug", "option --env") in rows
    assert any(r[0] == "storage_options.secret" and r[1] == REDACTED for r in rows)
    assert "storage_options.endpoint_url" in describe_text(secret_settings)


def test_nothing_secret_in_logs(secret_settings, caplog):
    caplog.set_level(logging.DEBUG, logger="flyte_jupyter")
    replace_settings(secret_settings, "panel", domain="staging")
    for secret in SECRET_VALUES:
        assert secret not in caplog.text


def test_secret_values_still_reach_flytekit(secret_settings):
    assert secret_settings.env_dict["API_TOKEN"] == SECRET_VALUES[0]
    assert secret_settings.storage_options_dict["secret"] == SECRET_VALUES[2]


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("GITHUB_TOKEN", True),
        ("aws_secret_access_key", True),
        ("DB_PASSWORD", True),
        ("key", True),
        ("GOOGLE_APPLICATION_CREDENTIALS", True),
        ("LOG_LEVEL", False),
        ("endpoint_url", False),
    ],
)
def test_looks_secret(key, secret):
    assert looks_secret(key) is secret


def test_redact_url():
    assert redact_url("s3://a:b@h/p") == "s3://a:***@h/p"
    assert redact_url("s3://bucket/p") == "s3://bucket/p"


def test_describe_shows_stock_image_as_such(resolve):
    rows = {key: (value, source) for key, value, source in describe(resolve())}
    value, source = rows["images.default"]
    assert value.startswith("cr.flyte.org/flyteorg/flytekit:py")
    assert source.startswith("flytekit default image for Python")
    assert rows["version"] == ("auto", "default")
    assert rows["bundle_max_bytes"][0] == "1 GiB (1073741824 bytes)"


def test_current_domain_in_notebook_and_in_run(resolve):
    assert active_settings() is None
    assert current_domain({}) == "development"
    staging = resolve(options={"domain": "staging"})
    previous = activate(staging)
    assert previous is None
    assert current_domain({}) == "staging"
    # inside a run flytekit's entrypoint environment wins
    assert current_domain({"FLYTE_INTERNAL_EXECUTION_DOMAIN": "production"}) == "production"
    assert current_domain({"_F_DM": "production"}) == "production"
    assert current_domain({"FLYTE_INTERNAL_EXECUTION_DOMAIN": ""}) == "staging"
    with activated(replace_settings(staging, "t", domain="production")):
        assert current_domain({}) == "production"
    assert current_domain({}) == "staging"


def test_current_domain_reads_os_environ_at_call_time(monkeypatch):
    monkeypatch.setenv("FLYTE_INTERNAL_EXECUTION_DOMAIN", "staging")
    assert current_domain() == "staging"
    monkeypatch.delenv("FLYTE_INTERNAL_EXECUTION_DOMAIN")
    assert current_domain() == "development"


def test_trait_specs_cover_every_key():
    assert set(TRAIT_SPECS) == set(FIELD_SPECS)
    for key, spec in TRAIT_SPECS.items():
        kind, help_text, default, choices = spec  # a plain tuple for the magics class
        assert kind in {"unicode", "enum", "list", "dict", "int"}
        assert help_text.endswith(".")
        assert "Default:" in help_text
        assert default is None
        assert bool(choices) == (kind == "enum"), key
    assert TRAIT_SPECS["copy_style"].choices == ("auto", "all", "none")
    assert TRAIT_SPECS["backend"].choices == ("local", "remote")
    assert TRAIT_SPECS["local_runs"].choices == ("warm", "exact")


def test_all_matches_module():
    exported = set(settings_pkg.__all__)
    public = {n for n in vars(settings_pkg) if not n.startswith("_")} - {"annotations"}
    submodules = {
        "context", "report", "fields", "images", "model", "resolve", "serialization",
        "version", "secrets", "coerce", "sources", "flytekit_config", "local_runs",
    }  # fmt: skip
    assert exported == public - submodules
    assert len(settings_pkg.__all__) == len(exported)


def test_import_is_light():
    code = (
        "import sys, flyte_jupyter.settings as s; "
        "s.Settings(); s.current_domain({}); s.describe(s.Settings()); "
        "heavy = [m for m in ('flytekit', 'IPython', 'ipywidgets', 'traitlets', 'tornado', "
        "'yaml') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == ""


def test_settings_default_construction_is_valid():
    s = Settings()
    assert s.images.default is None
    assert s.provenance == {}
