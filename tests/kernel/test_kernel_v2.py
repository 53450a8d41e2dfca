"""flyte v2 tasks in real kernels: the bundle is a pure function of the code, as for flytekit.

One notebook (``import flyte``, a ``TaskEnvironment`` with a named image ref, a task that uses a
local module imported in a cell, another one imported lazily in its body, and a dataclass input)
runs in two fresh kernels, each with its own ``FLYTE_JUPYTER_HOME``, from two different parent
folders. Each kernel bundles the task three times (after the definitions, after the task cell
is re-executed unchanged, after an unrelated cell is edited) and runs it once with ``a0``.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

NOTEBOOK = "v2_analysis.ipynb"
MODULE = "nb_v2_analysis"
IMAGE = "base=ghcr.io/acme/base:1.0"
RUN_MARK = "FJ_V2_RUN "

PROJECT_FILES: dict[str, str | bytes] = {
    "helpers.py": "def scale(x: float, factor: float) -> float:\n    return x * factor\n",
    "v2_lazy.py": "def total(values: list[float]) -> float:\n    return float(sum(values))\n",
    "data/notes.txt": "not code\n",
}

TASK_CELL = (
    "@env.task\n"
    "def compute(p: Params) -> float:\n"
    "    import v2_lazy\n"
    "\n"
    "    return v2_lazy.total([helpers.scale(p.scale, 2.0)] * p.n)"
)
UNRELATED_CELL = "unrelated = [1, 2, 3]\nprint(sum(unrelated))"


def v2_cells(probe: Any) -> list[str]:
    bundle = "b = %flyte_bundle compute"
    return [
        "%load_ext flyte_jupyter",
        "from dataclasses import dataclass\n\nimport flyte\n\nimport helpers",
        'env = flyte.TaskEnvironment(name="v2k", image=flyte.Image.from_ref_name("base"))',
        "@dataclass\nclass Params:\n    n: int\n    scale: float = 2.0",
        TASK_CELL,
        UNRELATED_CELL,
        bundle,
        probe("b"),
        TASK_CELL,  # re-executed, unchanged
        bundle,
        probe("b"),
        UNRELATED_CELL.replace("[1, 2, 3]", "[4, 5, 6, 7]"),  # an unrelated edit
        bundle,
        probe("b"),
        (
            f"r = %flyte_run --wait --image {IMAGE} compute(p=Params(n=3))\n"
            f"print({RUN_MARK!r} + __import__('json').dumps("
            "[r.status, r.outputs, r.flyte_name, r.bundle]))"
        ),
    ]


@dataclass
class KernelRun:
    """The three bundle summaries of one kernel, the archive bytes, and its run."""

    bundles: list[Any]
    archive: bytes
    run: list[Any]
    text: str


def _run(kit, notebook_runner, folder: Path, home: Path) -> KernelRun:
    kit.write_tree(folder, PROJECT_FILES)
    executed = notebook_runner(kit.make_notebook(v2_cells(kit.probe_code)), folder / NOTEBOOK, home)
    text = "\n".join(kit.cell_text(c) for c in executed.cells)
    bundles = kit.probe_results(executed)
    assert len(bundles) == 3, text
    runs = [
        json.loads(line.removeprefix(RUN_MARK))
        for line in text.splitlines()
        if line.startswith(RUN_MARK)
    ]
    assert len(runs) == 1, text
    return KernelRun(bundles, bundles[0].archive, runs[0], text)


@pytest.fixture(scope="module")
def kernels(kit, notebook_runner, tmp_path_factory) -> tuple[KernelRun, KernelRun]:
    first = tmp_path_factory.mktemp("v2-a") / "project"
    second = tmp_path_factory.mktemp("v2-b") / "some" / "deeper" / "folder"
    return (
        _run(kit, notebook_runner, first, tmp_path_factory.mktemp("v2-home-a")),
        _run(kit, notebook_runner, second, tmp_path_factory.mktemp("v2-home-b")),
    )


def test_two_fresh_kernels_in_two_folders_give_the_same_v2_bundle(kernels):
    a, b = kernels
    assert a.bundles[0].path != b.bundles[0].path  # two homes: each kernel wrote its own archive
    assert a.bundles[0].digest == b.bundles[0].digest
    assert a.bundles[0].files == b.bundles[0].files
    assert a.bundles[0].source == b.bundles[0].source
    assert a.archive == b.archive
    assert a.bundles[0].filename == f"fast{a.bundles[0].digest}.tar.gz"


def test_reexecuted_task_cell_and_unrelated_edit_keep_the_v2_digest(kernels):
    for kernel in kernels:
        first, reexecuted, after_edit = kernel.bundles
        assert reexecuted.digest == first.digest
        assert after_edit.digest == first.digest
        assert after_edit.source == first.source
        assert "unrelated" not in first.source


def test_v2_bundle_ships_the_local_and_the_lazily_imported_module(kernels):
    info = kernels[0].bundles[0]
    assert info.module == MODULE
    assert info.files == ["helpers.py", f"{MODULE}.py", "v2_lazy.py"]  # sorted arcnames
    for kept in (
        "import flyte",
        "import helpers",
        "TaskEnvironment",
        "class Params",
        "def compute",
    ):
        assert kept in info.source
    assert info.source.count("def compute") == 1  # the re-executed cell replaced its first run
    with tarfile.open(info.path) as tar:
        assert sorted(tar.getnames()) == sorted(info.files)
        shipped = tar.extractfile("v2_lazy.py")
        assert shipped is not None
        assert shipped.read().decode() == PROJECT_FILES["v2_lazy.py"]


def test_the_v2_task_runs_from_that_bundle_with_a_dataclass_input(kernels):
    for kernel in kernels:
        status, outputs, flyte_name, bundle = kernel.run
        assert status == "SUCCEEDED", kernel.text[-3000:]
        assert outputs == 12.0  # 3 * scale(2.0, 2.0)
        assert flyte_name == "v2k.compute"
        digest, uri = bundle
        assert digest == kernel.bundles[0].digest  # it ran the bundle the preview showed
        assert uri.endswith(f"fast{digest}.tar.gz")
