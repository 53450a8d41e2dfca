"""Import hygiene: below the adapters nothing loads a UI or server stack; %load_ext stays light.

The layers contract (which package may import which) is tests/test_layers.py; this file runs
the imports for real, every module of every layer below the adapters in one fresh interpreter.
"""

import json
import subprocess
import sys
from pathlib import Path

import flyte_jupyter

HEAVY = ("flytekit", "flyte", "s3fs", "tornado", "ipywidgets", "botocore")
UI = ("IPython", "ipywidgets", "tornado", "jupyter_server")
# every package and module below the adapters (see tests/test_layers.py)
BELOW_ADAPTERS = (
    "sdk",
    "capture",
    "bundle",
    "store",
    "settings",
    "serialize",
    "runtime",
    "launch",
    "prepare",
    "submit",
    "deploy",
    "session",
    "_kernel",
    "progress",
    "redaction",
    "errors",
    "_html",
    "_os",
)
PACKAGE = Path(flyte_jupyter.__file__).parent


def imported_after(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def _modules_below_adapters() -> list[str]:
    names = []
    for top in BELOW_ADAPTERS:
        folder = PACKAGE / top
        files = sorted(folder.rglob("*.py")) if folder.is_dir() else [PACKAGE / f"{top}.py"]
        for path in files:
            parts = path.relative_to(PACKAGE).with_suffix("").parts
            parts = parts[:-1] if parts[-1] == "__init__" else parts
            names.append(".".join(("flyte_jupyter", *parts)))
    return names


def test_no_module_below_the_adapters_imports_a_ui_or_server_stack():
    modules = _modules_below_adapters()
    assert "flyte_jupyter.launch.run" in modules
    assert "flyte_jupyter.session" in modules
    loaded = imported_after("\n".join(f"import {m}" for m in modules))
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
