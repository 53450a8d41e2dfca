"""The auto version survives a kernel restart: same code and settings, same version."""

import pytest

pytestmark = pytest.mark.slow

CELLS = [
    "%load_ext flyte_jupyter",
    "from flytekit import task\n\n@task\ndef square(x: int) -> int:\n    return x * x",
    "print('unrelated side effect')",
]


def probe(extra: str) -> str:
    return (
        "from flyteidl.admin import task_pb2\n"
        "from pathlib import Path\n"
        f"paths = %flyte_serialize --folder out square {extra}\n"
        "spec = task_pb2.TaskSpec()\n"
        "spec.ParseFromString(Path(paths[0]).read_bytes())\n"
        "print('VERSION', spec.template.id.version, spec.template.container.image)"
    )


def versions(nb):
    return [
        tuple(line.split()[1:])
        for cell in nb.cells
        for output in cell.get("outputs", [])
        for line in output.get("text", "").splitlines()
        if line.startswith("VERSION ")
    ]


def test_auto_version_is_stable_across_restarts_and_follows_images(kit, notebook_runner, tmp_path):
    cells = [*CELLS, probe(""), probe("--image ghcr.io/org/other:2"), probe("--env MODE=x")]
    nb = kit.make_notebook(cells)
    first = versions(notebook_runner(nb, tmp_path / "a" / "analysis.ipynb", tmp_path / "home-a"))
    second = versions(notebook_runner(nb, tmp_path / "b" / "analysis.ipynb", tmp_path / "home-b"))
    assert len(first) == 3
    assert first == second  # two fresh kernels, two machines' worth of homes and folders
    plain, other_image, other_env = first
    assert other_image[1] == "ghcr.io/org/other:2"
    assert len({plain[0], other_image[0], other_env[0]}) == 3
