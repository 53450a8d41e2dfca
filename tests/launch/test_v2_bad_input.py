"""Bad input for flyte v2 tasks: a clear error before anything is built, uploaded or run, or,
for ``flyte.init()`` at a module's top level, a run that works."""

import json
import os
import subprocess
import sys
import textwrap

import pytest
from IPython.core.error import UsageError
from shell_helpers import run_cell

from flyte_jupyter.launch import RunStore

pytestmark = pytest.mark.slow

DEFS = """
import flyte

env = flyte.TaskEnvironment(name="demo", image="ghcr.io/acme/base:1.0")

@env.task
def square(x: int) -> int:
    return x * x
"""

FAN = """
import asyncio

@env.task
async def squares(n: int) -> list[int]:
    return list(await asyncio.gather(*[square.aio(x=i) for i in range(n)]))
"""


@pytest.fixture
def nb(ip, monkeypatch):
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    return ip


def assert_nothing_happened(home):
    assert not (home / "runs.sqlite").exists() or RunStore(home / "runs.sqlite").list() == []
    assert not (home / "store").exists()  # nothing was uploaded
    assert not list(home.glob("cache/bundles/*.tar.gz"))  # nor built


def test_copy_style_none_without_a_version_is_refused_before_anything_is_built(nb, tmp_path):
    # the task lives in a module (as it must for copy style none: the image holds the code)
    (tmp_path / "shipped.py").write_text(textwrap.dedent(DEFS))
    run_cell(nb, "from shipped import square\n")
    expected = (
        r"copy style 'none' \(from option --copy-style\) ships no bundle, so there is no digest "
        r"to derive a version from\. Give an explicit version \(--version v1, or version = \.\.\. "
        r"in \[tool\.flyte_jupyter\]\) that names the image holding the code\."
    )
    with pytest.raises(UsageError, match=expected):
        nb.run_line_magic("flyte_run", "--copy-style none square(x=3)")
    with pytest.raises(UsageError, match=expected):
        nb.run_cell_magic("flyte_run", "--wait --copy-style none", "r = square(x=3)\n")
    assert_nothing_happened(tmp_path / "home")


WITHOUT_FLYTE = """
import json, sys
sys.modules["flyte"] = None  # as where flyte is not installed: `import flyte` fails
from IPython.testing.globalipapp import start_ipython
ip = start_ipython()
ip.run_line_magic("load_ext", "flyte_jupyter")
seen = {}
def attempt(key):
    for magic, line in (("flyte_run", "--wait square(x=3)"), ("flyte_bundle", "square")):
        try:
            ip.run_line_magic(magic, line)
        except Exception as exc:
            seen[f"{key} {magic}"] = str(exc)
# a notebook written for flyte v2: its defining cell fails on the import
failed = ip.run_cell(%r)
seen["import"] = repr(failed.error_in_exec)
attempt("failed cell")
# the same function without the decorator the cell could not apply
ip.run_cell("def square(x: int) -> int:\\n    return x * x\\n")
attempt("plain function")
print(json.dumps(seen))
"""


def test_without_flyte_the_magics_say_to_pip_install_flyte(tmp_path):
    env = {
        **os.environ,
        "FLYTE_JUPYTER_HOME": str(tmp_path / "home"),
        "JPY_SESSION_NAME": str(tmp_path / "My Analysis.ipynb"),
        "FLYTE_JUPYTER_CONFIG_CEILING": str(tmp_path),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "DO_NOT_TRACK": "1",
    }
    script = WITHOUT_FLYTE % textwrap.dedent(DEFS)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert "import of flyte halted" in seen["import"]  # Python itself refuses the cell
    for magic in ("flyte_run", "flyte_bundle"):
        assert seen[f"failed cell {magic}"] == (
            "'square' is not defined in this kernel. Run the cell that defines it. The last cell "
            "that failed could not import flyte: it is not installed in this kernel's Python "
            f"({sys.executable}). pip install flyte, restart the kernel and run the cells again."
        )
        assert seen[f"plain function {magic}"].endswith(
            "or @env.task (flyte.TaskEnvironment) after installing it (pip install flyte)."
        )
    assert_nothing_happened(tmp_path / "home")


def test_flyte_init_at_a_modules_top_level_runs_through_a0_and_in_local_mode(nb, tmp_path):
    # the shipped module is imported by a0 (which calls init itself) and by flyte's local
    # mode: an init of its own, even naming an endpoint nothing answers, changes neither
    init = 'flyte.init(endpoint="dns:///flyte.example.invalid")\n'
    (tmp_path / "shipped_init.py").write_text(textwrap.dedent(DEFS) + init + textwrap.dedent(FAN))
    run_cell(nb, "from shipped_init import square, squares\n", cell_id="imp")
    plain = nb.run_line_magic("flyte_run", "--wait square(x=3)")
    assert plain.status == "SUCCEEDED", plain.logs()
    assert plain.outputs == 9
    fan = nb.run_line_magic("flyte_run", "--wait squares(n=4)")
    assert fan.status == "SUCCEEDED", fan.logs()
    assert fan.outputs == [0, 1, 4, 9]
    assert "in flyte's local mode" in fan.logs()


def test_flyte_init_in_a_notebook_cell_is_dropped_from_the_bundle_and_the_run_works(nb):
    run_cell(nb, DEFS + "flyte.init()\n" + FAN, cell_id="defs")
    bundle = nb.run_line_magic("flyte_bundle", "squares")
    assert [d.code for d in bundle.dropped] == ["flyte.init()"]
    assert bundle.dropped[0].cell == "cell defs"
    assert bundle.dropped[0].reason == "top-level expression (side effect)"
    fan = nb.run_line_magic("flyte_run", "--wait squares(n=3)")
    assert fan.status == "SUCCEEDED", fan.logs()
    assert fan.outputs == [0, 1, 4]
