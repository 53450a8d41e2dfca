"""Auto versions are stable across processes; SerializationSettings come out right."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from flytekit.configuration import SerializationSettings

from flyte_jupyter.bundle.model import Bundle
from flyte_jupyter.errors import SettingsError
from flyte_jupyter.settings import (
    auto_version,
    effective_version,
    replace_settings,
    serialization_settings,
    serialization_settings_for_bundle,
)
from flyte_jupyter.settings.version import VERSION_LENGTH

DIGEST = "d" * 64
BASE = "ghcr.io/org/base:1.0"
OPTIONS = {"images": [BASE, "spark=ghcr.io/org/spark:3.5"], "env": ["A=1", "B=2"]}

_SCRIPT = """
import json, sys
from pathlib import Path
from flyte_jupyter.settings import auto_version, resolve_settings
environ, start, options = json.loads(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
settings = resolve_settings(start_dir=Path(start), environ=environ, options=options)
print(auto_version(sys.argv[4], settings))
"""


def _version_in_fresh_process(environ, nb_dir, seed: str) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            _SCRIPT,
            json.dumps(environ),
            str(nb_dir),
            json.dumps(OPTIONS),
            DIGEST,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": seed},
        timeout=120,
    )
    return out.stdout.strip()


@pytest.mark.slow
def test_auto_version_stable_across_processes(resolve, environ, nb_dir):
    here = auto_version(DIGEST, resolve(options=OPTIONS))
    assert len(here) == VERSION_LENGTH
    assert _version_in_fresh_process(environ, nb_dir, "1") == here
    assert _version_in_fresh_process(environ, nb_dir, "2") == here


@pytest.mark.parametrize(
    "change",
    [
        {"images": ["ghcr.io/org/base:1.1", "spark=ghcr.io/org/spark:3.5"]},
        {"images": [BASE, "spark=ghcr.io/org/spark:3.6"]},
        {"env": ["A=1", "B=3"]},
        {"env": ["A=1", "B=2", "C=0"]},
        {"store": "s3://other/prefix"},
    ],
)
def test_auto_version_changes_with_serialization_inputs(resolve, change):
    base = resolve(options=OPTIONS)
    changed = replace_settings(base, "test", merge=False, **change)
    assert auto_version(DIGEST, changed) != auto_version(DIGEST, base)


def test_auto_version_changes_with_digest_not_with_project_or_domain(resolve):
    s = resolve(options=OPTIONS)
    assert auto_version("e" * 64, s) != auto_version(DIGEST, s)
    promoted = replace_settings(s, "test", project="other", domain="production")
    assert auto_version(DIGEST, promoted) == auto_version(DIGEST, s)


def test_explicit_version_used_as_given(resolve):
    s = resolve(options={**OPTIONS, "version": "v1.2.3"})
    assert effective_version(DIGEST, s) == "v1.2.3"
    assert effective_version(DIGEST, replace_settings(s, "test", version="auto")) == auto_version(
        DIGEST, replace_settings(s, "test", version="auto")
    )


def _bundle(root, uri):
    return Bundle(
        digest=DIGEST,
        path=root / f"fast{DIGEST}.tar.gz",
        root=root,
        entries=(),
        module="nb_x",
        source=None,
        dropped=(),
        excluded=(),
        uri=uri,
    )


def test_serialization_settings_for_bundle(resolve, nb_dir):
    s = resolve(options={**OPTIONS, "project": "ml", "domain": "staging"})
    uri = f"file:///store/fast{DIGEST}.tar.gz"
    ss = serialization_settings_for_bundle(s, _bundle(nb_dir, uri))
    assert isinstance(ss, SerializationSettings)
    assert (ss.project, ss.domain) == ("ml", "staging")
    assert ss.version == auto_version(DIGEST, s)
    assert ss.env == {"A": "1", "B": "2"}
    assert ss.source_root == str(nb_dir)
    fast = ss.fast_serialization_settings
    assert (fast.enabled, fast.destination_dir, fast.distribution_location) == (True, ".", uri)
    assert ss.image_config.default_image.full == BASE
    assert ss.image_config.find_image("spark").full == "ghcr.io/org/spark:3.5"
    assert ss.should_fast_serialize()


def test_serialization_settings_round_trip_json(resolve, nb_dir):
    s = resolve(options=OPTIONS)
    ss = serialization_settings(
        s, bundle_uri="s3://b/fast.tar.gz", source_root=nb_dir, version="v7"
    )
    again = SerializationSettings.from_json(ss.to_json())
    assert again == ss
    assert again.fast_serialization_settings.distribution_location == "s3://b/fast.tar.gz"
    assert SerializationSettings.from_transport(ss.serialized_context) == ss


def test_copy_style_none_has_no_fast_registration(resolve):
    s = resolve(options={**OPTIONS, "copy_style": "none", "version": "img-v3"})
    ss = serialization_settings_for_bundle(s, None)
    assert ss.fast_serialization_settings is None
    assert not ss.should_fast_serialize()
    assert ss.version == "img-v3"


def test_bundle_must_be_stored_and_present(resolve, nb_dir):
    s = resolve(options=OPTIONS)
    with pytest.raises(SettingsError, match="no store URI yet"):
        serialization_settings_for_bundle(s, _bundle(nb_dir, None))
    with pytest.raises(SettingsError, match="ships a bundle, but none was given"):
        serialization_settings_for_bundle(s, None)
    with pytest.raises(SettingsError, match="not a valid version"):
        serialization_settings_for_bundle(s, _bundle(nb_dir, "file:///x"), version="bad version")
