"""Import hygiene: the core stays free of UI/server stacks, %load_ext stays light."""

import json
import subprocess
import sys

import pytest

import flyte_jupyter

HEAVY = ("flytekit", "s3fs", "tornado", "ipywidgets", "botocore")
UI = ("IPython", "ipywidgets", "tornado", "jupyter_server")
CORE = ("capture", "bundle", "store", "settings", "serialize", "prepare")


def imported_after(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


@pytest.mark.parametrize("package", CORE)
def test_core_packages_import_no_ui_stack(package):
    loaded = imported_after(f"import flyte_jupyter.{package}")
    assert not {m.split(".")[0] for m in loaded} & set(UI)


def test_package_import_and_load_ext_pull_in_nothing_heavy():
    statement = (
        "from IPython.testing.globalipapp import start_ipython\n"
        "ip = start_ipython()\n"
        "ip.run_line_magic('load_ext', 'flyte_jupyter')"
    )
    loaded = {m.split(".")[0] for m in imported_after(statement)}
    assert not loaded & set(HEAVY)
    assert "flyte_jupyter" in loaded


def test_version_is_exported():
    assert flyte_jupyter.__version__.count(".") == 2
    assert set(flyte_jupyter.__all__) <= set(dir(flyte_jupyter))
