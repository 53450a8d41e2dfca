"""The self-check asks the SDK seam, in the fresh interpreter, what each target is."""

import json

import pytest

from flyte_jupyter.bundle import BundleRequest, make_bundle
from flyte_jupyter.bundle.selfcheck import self_check
from flyte_jupyter.capture import CellLog, build_module
from flyte_jupyter.errors import SelfCheckError

CELL = (
    "from flytekit import task\n"
    "@task\ndef square(x: int) -> int:\n    return x * x\n"
    "def plain(x: int) -> int:\n    return x\n"
)


def _bundle(tree, cache, targets, cell=CELL):
    root = tree({"README.md": "notes\n"})
    module = build_module(CellLog().add(None, cell).records, targets, "nb_t")
    return make_bundle(BundleRequest(root_dir=root, module=module), cache_dir=cache), module


def test_a_flytekit_task_is_recognised_with_its_flyte_name(tree, cache):
    bundle, module = _bundle(tree, cache, ["square"])
    self_check(bundle, module, cache_dir=cache, loaded_modules={})
    (marker,) = (cache / "checked").iterdir()
    assert json.loads(marker.read_text()) == {"square": ["task", "nb_t.square"]}


def test_a_plain_function_is_not_a_task_in_the_generated_module(tree, cache):
    bundle, module = _bundle(tree, cache, ["plain"])
    with pytest.raises(SelfCheckError, match="'plain' is not a Flyte task or workflow in the"):
        self_check(bundle, module, cache_dir=cache, loaded_modules={})


V2_CELL = (
    "import flyte\n"
    'env = flyte.TaskEnvironment(name="demo", image="ghcr.io/acme/base:1.0")\n'
    "@env.task\ndef square(x: int) -> int:\n    return x * x\n"
)


def test_a_flyte_v2_task_is_recognised_with_its_environment_name(tree, cache):
    bundle, module = _bundle(tree, cache, ["square"], V2_CELL)
    self_check(bundle, module, cache_dir=cache, loaded_modules={})
    (marker,) = (cache / "checked").iterdir()
    assert json.loads(marker.read_text()) == {"square": ["task", "demo.square"]}
