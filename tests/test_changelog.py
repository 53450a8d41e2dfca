"""The CHANGELOG names the version the package reports."""

import re
from pathlib import Path

import flyte_jupyter


def test_changelog_has_an_entry_for_this_version():
    text = (Path(__file__).resolve().parents[1] / "CHANGELOG.md").read_text(encoding="utf-8")
    versions = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", text, flags=re.MULTILINE)
    assert versions
    assert versions[0] == flyte_jupyter.__version__
