"""%flyte_deploy groups entities by SDK: each SDK serializes its own and its launcher registers.

flytekit and flyte v2 entities of one notebook ship in one bundle under one version; the
flytekit ones go to ``launcher_for(..., sdk="flytekit")``, the v2 ones to
``launcher_for(..., sdk="flyte")``. The launchers here are fakes that record what they get;
the bundle, the self-check and both SDKs' serialization are real.
"""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from remote_shell import cell

import flyte_jupyter.deploy
from flyte_jupyter.errors import LaunchError
from flyte_jupyter.launch.model import Deployed

pytestmark = pytest.mark.slow

MIXED = """
import flyte
from flytekit import task

env = flyte.TaskEnvironment(name="demo", image=flyte.Image.from_ref_name("base"))

@task
def square(x: int) -> int:
    return x * x

@env.task
def cube(x: int) -> int:
    return x * x * x
"""
IMAGES = "--image ghcr.io/acme/default:1 --image base=ghcr.io/acme/base:1.0"


class FakeLauncher:
    """Records the DeploySpec; reports each serialized entity registered."""

    def __init__(self, sdk, fail=None):
        self.sdk = sdk
        self.endpoint = f"{sdk}.example.com:443"
        self.specs = []
        self.fail = fail

    def deploy(self, spec):
        self.specs.append(spec)
        if self.fail:
            raise LaunchError(self.fail)
        return [
            Deployed(f.kind, f.name, spec.version, "registered", f"https://{self.endpoint}/x")
            for f in spec.serialized.files
        ]


@pytest.fixture
def mixed(ip, tmp_path, monkeypatch):
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setenv("FLYTE_JUPYTER_ROOT_DIR", str(tmp_path))
    cell(ip, MIXED, cell_id="mixed")
    return ip


@pytest.fixture
def launchers(monkeypatch):
    made = {}

    def launcher_for(settings, sdk="flytekit"):
        assert settings.backend == "remote"
        made[sdk] = made.get(sdk) or FakeLauncher(sdk)
        return made[sdk]

    monkeypatch.setattr(flyte_jupyter.deploy, "launcher_for", launcher_for)
    return made


def test_each_sdks_entities_go_to_its_own_launcher_under_one_version(mixed, launchers):
    result = mixed.run_line_magic("flyte_deploy", IMAGES)
    assert set(launchers) == {"flytekit", "flyte"}
    (kit,) = launchers["flytekit"].specs
    (v2,) = launchers["flyte"].specs
    assert (kit.sdk, v2.sdk) == ("flytekit", "flyte")
    assert [(f.kind, f.name) for f in kit.serialized.files] == [("task", "nb_my_analysis.square")]
    assert [(f.kind, f.name) for f in v2.serialized.files] == [("task", "demo.cube")]
    assert kit.version == v2.version == result.version
    assert kit.bundle.digest == v2.bundle.digest == result.bundle_digest
    assert kit.settings.backend == v2.settings.backend == "remote"
    assert {d.name for d in result.deployed} == {"nb_my_analysis.square", "demo.cube"}
    assert result.endpoints == {
        "flytekit": "flytekit.example.com:443",
        "flyte": "flyte.example.com:443",
    }
    v2_args = list(v2.serialized.files[0].container().args)
    assert v2_args[0] == "a0"
    assert v2_args[v2_args.index("--tgz") + 1] == v2.bundle.uri


def test_one_entity_goes_only_to_its_sdks_launcher(mixed, launchers):
    mixed.run_line_magic("flyte_deploy", f"{IMAGES} cube")
    assert set(launchers) == {"flyte"}


def test_a_failure_after_another_sdk_registered_says_what_was_registered(mixed, launchers):
    launchers["flytekit"] = FakeLauncher("flytekit", fail="the control plane said no")
    with pytest.raises(UsageError) as info:
        mixed.run_line_magic("flyte_deploy", IMAGES)
    message = str(info.value)
    assert "the control plane said no" in message
    assert "Registered before this failed" in message
    assert "task demo.cube" in message


def test_dry_run_shows_both_sdks_specs(mixed, launchers):
    plan = mixed.run_line_magic("flyte_deploy", f"--dry-run {IMAGES}")
    assert launchers == {}  # no launcher made: no cluster asked
    by_name = {p.name: p for p in plan.planned}
    assert set(by_name) == {"nb_my_analysis.square", "demo.cube"}
    assert by_name["demo.cube"].sdk == "flyte"
    assert by_name["demo.cube"].image == "ghcr.io/acme/base:1.0"
    assert by_name["demo.cube"].args[0] == "a0"
    assert by_name["nb_my_analysis.square"].image == "ghcr.io/acme/default:1"
    assert by_name["nb_my_analysis.square"].args[0] == "pyflyte-fast-execute"


def test_copy_style_none_refuses_notebook_defined_entities(mixed, launchers):
    with pytest.raises(UsageError, match="copy style 'none' ships no code"):
        mixed.run_line_magic("flyte_deploy", f"{IMAGES} --copy-style none --version v1 square")
    assert all(not launcher.specs for launcher in launchers.values())
