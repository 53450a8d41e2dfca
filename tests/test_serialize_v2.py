"""%flyte_serialize of flyte v2 tasks: flyteidl2 TaskSpecs with the a0 command of the bundle."""

import pytest
from flyteidl2.task import task_definition_pb2
from IPython.core.error import UsageError
from shell_helpers import run_cell

pytestmark = pytest.mark.usefixtures("no_telemetry")

CODE = """
import flyte

env = flyte.TaskEnvironment(
    name="demo", image=flyte.Image.from_ref_name("base"), env_vars={"STAGE": "two"}
)

@env.task
def square(x: int) -> int:
    return x * x
"""


@pytest.fixture
def no_telemetry(monkeypatch):
    monkeypatch.setenv("DO_NOT_TRACK", "1")


def test_serialize_writes_a_v2_task_spec_with_the_a0_command_of_the_bundle(ip, tmp_path):
    run_cell(ip, CODE)
    out = tmp_path / "out"
    written = ip.run_line_magic(
        "flyte_serialize",
        f"--folder {out} --image ghcr.io/acme/default:1 --image base=ghcr.io/acme/base:1.0 "
        "--version v7",
    )
    names = sorted(p.name for p in written)
    assert names[0] == "0_demo.square_1.pb"
    assert names[1].startswith("fast")
    assert names[1].endswith(".tar.gz")
    spec = task_definition_pb2.TaskSpec()
    spec.ParseFromString((out / names[0]).read_bytes())
    template = spec.task_template
    assert template.id.name == "demo.square"
    assert (template.id.version, template.id.project, template.id.domain) == (
        "v7",
        "flytesnacks",
        "development",
    )
    assert template.container.image == "ghcr.io/acme/base:1.0"
    assert {e.key: e.value for e in template.container.env} == {"STAGE": "two"}
    args = list(template.container.args)
    assert args[:3] == ["a0", "--inputs", "{{.input}}"]
    tgz = args[args.index("--tgz") + 1]
    assert tgz.startswith("file://")
    assert tgz.endswith(names[1])
    assert args[-8:] == [
        "--dest", ".", "--resolver", "flyte._internal.resolvers.default.DefaultTaskResolver",
        "mod", "nb_my_analysis", "instance", "square",
    ]  # fmt: skip


def test_a_v2_task_whose_image_ref_is_not_set_is_refused_naming_ref_task_and_where(ip, tmp_path):
    run_cell(ip, CODE)
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("flyte_serialize", f"--folder {tmp_path / 'o'} --version v1")
    assert str(info.value) == (
        "task 'square' (demo.square) uses the image ref 'base' (flyte.Image.from_ref_name), "
        "which is not defined (defined: default). Set it with --image base=<URI>, "
        '%config FlyteJupyter.images = ["base=<URI>"], or images = ["base=<URI>"] under '
        "[tool.flyte_jupyter] in pyproject.toml."
    )
    assert not list((tmp_path / "o").glob("*.pb"))


def test_an_environment_without_image_gets_the_default_image_chosen_else_v2s_own(ip, tmp_path):
    run_cell(ip, 'import flyte\nplain = flyte.TaskEnvironment(name="plain")\n')
    run_cell(ip, "@plain.task\ndef cube(x: int) -> int:\n    return x * x * x\n")

    def image(options):
        out = tmp_path / f"o{abs(hash(options))}"
        ip.run_line_magic("flyte_serialize", f"--folder {out} cube --version v1 {options}")
        spec = task_definition_pb2.TaskSpec()
        spec.ParseFromString((out / "0_plain.cube_1.pb").read_bytes())
        return spec.task_template.container.image

    assert image("--image ghcr.io/acme/default:1") == "ghcr.io/acme/default:1"
    # not flytekit's stock image: v2's default image for its own version
    assert image("").startswith("ghcr.io/flyteorg/flyte:py3.")
