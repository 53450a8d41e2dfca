"""flyte v2 (``flyte.TaskEnvironment``, ``@env.task``) behind the SDK seam.

A v2 task is owned by the ``flyte`` SDK, named ``<environment>.<function>``, its inputs checked
by v2's strict type engine with the same messages as flytekit's, its outputs and error document
read from flyteidl2 messages, and its local command is the ``a0`` entrypoint with the run's
paths and what ``a0`` needs outside a cluster.
"""

import json
import subprocess
import sys
import textwrap

import pytest

from flyte_jupyter.errors import InputError, SettingsError
from flyte_jupyter.sdk import LocalRun, entity_kind, load_sdk, sdk_for
from flyte_jupyter.settings.images import ImageRefs

MODULE = """
import flyte

env = flyte.TaskEnvironment(name="shapes", image="ghcr.io/org/a:1")
named = flyte.TaskEnvironment(name="named", image=flyte.Image.from_ref_name("base"))
layered = flyte.TaskEnvironment(
    name="layered", image=flyte.Image.from_debian_base().with_pip_packages("numpy")
)

@env.task
def square(x: int, scale: float = 1.5) -> float:
    return x * x * scale

@env.task
def pair(x: int) -> tuple[int, str]:
    return x, str(x)

@named.task
def on_base(x: int) -> int:
    return x

@layered.task
def built(x: int) -> int:
    return x
"""


@pytest.fixture(scope="module")
def v2(tmp_path_factory):
    folder = tmp_path_factory.mktemp("v2")
    (folder / "v2_shapes.py").write_text(MODULE)
    sys.path.insert(0, str(folder))
    try:
        import v2_shapes
    finally:
        sys.path.remove(str(folder))
    return v2_shapes


def test_a_v2_task_is_owned_by_flyte_with_its_kind_and_environment_name(v2):
    sdk = sdk_for(v2.square, "square")
    assert sdk.name == "flyte"
    assert sdk.kind(v2.square) == "task" == entity_kind(v2.square)
    # v2 names a task after its environment, whatever module it is run from
    assert sdk.flyte_name(v2.square, "nb_other") == "shapes.square"
    assert sdk.origin(v2.square) == ("square", "v2_shapes")
    assert not sdk.defined_in_notebook(v2.square)
    assert sdk.container_images(v2.square) == ["ghcr.io/org/a:1"]
    assert sdk.container_images(v2.on_base) == ["ref:base"]
    assert sdk.container_images(v2.built) == ["layered:ghcr.io/flyteorg/flyte:py3.11-v2.12.1"]
    assert entity_kind(v2.env) is None  # the environment itself is no entity


def test_image_refs_must_be_defined_and_layered_images_are_refused(v2):
    sdk = load_sdk("flyte")
    sdk.check_images(
        "on_base", v2.on_base, ImageRefs("ghcr.io/acme/d:1", (("base", "ghcr.io/acme/b:1"),))
    )
    with pytest.raises(SettingsError) as info:
        sdk.check_images("on_base", v2.on_base, ImageRefs("ghcr.io/acme/d:1"))
    assert str(info.value) == (
        "task 'on_base' (named.on_base) uses the image ref 'base' (flyte.Image.from_ref_name), "
        "which is not defined (defined: default). Set it with --image base=<URI>, "
        '%config FlyteJupyter.images = ["base=<URI>"], or images = ["base=<URI>"] under '
        "[tool.flyte_jupyter] in pyproject.toml."
    )
    with pytest.raises(SettingsError, match=r"uses a layered image .* does not build images"):
        sdk.check_images("built", v2.built, ImageRefs("ghcr.io/acme/d:1"))


def test_inputs_are_checked_by_v2s_strict_type_engine_with_flytekits_messages(v2):
    from flyteidl2.task import common_pb2

    sdk = load_sdk("flyte")
    interface = sdk.interface(v2.square)
    assert dict(interface.inputs) == {"x": int, "scale": float}
    assert dict(interface.defaults) == {"scale": 1.5}
    data, shown = sdk.check_inputs("square", v2.square, {"x": 3})
    assert shown == {"x": "3", "scale": "1.5"}
    message = common_pb2.Inputs()
    message.ParseFromString(data)
    assert [item.name for item in message.literals] == ["x", "scale"]
    assert message.literals[0].value.scalar.primitive.integer == 3
    # flytekit would take 30 for a float; v2 refuses it at run time, so it is refused here
    with pytest.raises(InputError) as info:
        sdk.check_inputs("square", v2.square, {"x": 3, "scale": 30})
    assert str(info.value) == (
        "input 'scale' of square must be float, got int 30: Expected value of type "
        "<class 'float'> but got '30' of type <class 'int'> (flyte v2 does not turn an int "
        "into a float: pass 30.0). Call it as square(x: int, scale: float = ...)."
    )
    with pytest.raises(InputError, match=r"missing x\. Call it as square\(x: int, scale"):
        sdk.check_inputs("square", v2.square, {})
    with pytest.raises(InputError, match=r"outside Flyte's integer range"):
        sdk.check_inputs("square", v2.square, {"x": 2**80})


def test_inputs_are_checked_inside_a_running_event_loop_as_in_a_kernel(v2):
    import asyncio

    async def in_a_loop():  # a kernel runs cells while its event loop runs
        return load_sdk("flyte").check_inputs("pair", v2.pair, {"x": 4})

    data, shown = asyncio.run(in_a_loop())
    assert shown == {"x": "4"}
    assert data


def _outputs(**values):
    import asyncio

    from flyte.types import TypeEngine
    from flyteidl2.task import common_pb2

    literals = []
    for name, value in values.items():
        literal_type = TypeEngine.to_literal_type(type(value))
        literal = asyncio.run(TypeEngine.to_literal(value, type(value), literal_type))
        literals.append(common_pb2.NamedLiteral(name=name, value=literal))
    return common_pb2.Outputs(literals=literals).SerializeToString()


def test_outputs_and_the_error_document_are_read_from_flyteidl2_messages(v2):
    from flyteidl2.core import execution_pb2

    sdk = load_sdk("flyte")
    assert sdk.outputs_to_python(v2.pair, _outputs(o0=4, o1="4")) == (4, "4")
    assert sdk.outputs_to_python(v2.square, _outputs(o0=73.5)) == 73.5
    assert sdk.preview_outputs(_outputs(o0=4, o1="4")) == {"o0": "4", "o1": "'4'"}
    document = execution_pb2.ErrorDocument(error=execution_pb2.ContainerError(message="boom"))
    assert sdk.error_message(document.SerializeToString()) == "boom"
    empty = execution_pb2.ErrorDocument().SerializeToString()
    assert sdk.error_message(empty) == "the task failed (empty error message)"


def test_the_local_command_is_a0_with_the_run_paths_and_what_a0_needs_locally(tmp_path):
    args = [
        "a0", "--inputs", "{{.input}}", "--outputs-path", "{{.outputPrefix}}",
        "--version", "v1", "--raw-data-path", "{{.rawOutputDataPrefix}}",
        "--checkpoint-path", "{{.checkpointOutputPrefix}}",
        "--prev-checkpoint", "{{.prevCheckpointPrefix}}", "--run-name", "{{.runName}}",
        "--name", "{{.actionName}}", "--run-start-time", "{{.runStartTime}}",
        "--tgz", "s3://b/fast1.tar.gz", "--dest", ".",
        "--resolver", "flyte._internal.resolvers.default.DefaultTaskResolver",
        "mod", "nb_t", "instance", "square",
    ]  # fmt: skip
    run = LocalRun(
        run_id="fabc",
        kind="task",
        entity="square",
        flyte_name="shapes.square",
        module="nb_t",
        version="v1",
        project="p",
        domain="development",
        container_args=tuple(args),
        bundle_uri="s3://b/fast1.tar.gz",
        inputs=tmp_path / "inputs.pb",
        outputs=tmp_path / "outputs",
        raw=tmp_path / "raw",
        checkpoint=tmp_path / "checkpoint",
    )
    sdk = load_sdk("flyte")
    argv = sdk.local_command(run)
    assert argv == [
        "a0", "--inputs", str(tmp_path / "inputs.pb"), "--outputs-path", str(tmp_path / "outputs"),
        "--version", "v1", "--raw-data-path", str(tmp_path / "raw"),
        "--checkpoint-path", str(tmp_path / "checkpoint"), "--prev-checkpoint", "",
        "--run-name", "fabc", "--name", "a0", "--run-start-time", "",
        "--tgz", "s3://b/fast1.tar.gz", "--dest", ".",
        "--run-base-dir", str(tmp_path / "base"), "--project", "p", "--domain", "development",
        "--org", "local",
        "--resolver", "flyte._internal.resolvers.default.DefaultTaskResolver",
        "mod", "nb_t", "instance", "square",
    ]  # fmt: skip
    # telemetry is the launcher's (off unless the user turned it on), not the SDK's
    assert sdk.local_env(run) == {"FLYTE_INTERNAL_EXECUTION_DOMAIN": run.domain}


def test_recognising_a_flytekit_task_or_a_plain_object_imports_no_flyte(tmp_path):
    script = tmp_path / "kit_only.py"  # flytekit reads a task's source: a file, not -c
    script.write_text(
        textwrap.dedent("""
        import json, sys
        from flytekit import task
        from flyte_jupyter.sdk import entity_kind, sdk_for

        @task
        def t(x: int) -> int:
            return x

        kinds = [entity_kind(len), entity_kind(t), sdk_for(t).name]
        loaded = sorted(m for m in sys.modules if m.split(".")[0] == "flyte")
        print(json.dumps([kinds, loaded, "flyte_jupyter.sdk.flyte" in sys.modules]))
        """)
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out.strip().splitlines()[-1]) == [[None, "task", "flytekit"], [], False]


def test_a_users_own_module_named_flyte_is_not_taken_for_the_sdk(monkeypatch):
    import importlib.machinery
    import types

    from flyte_jupyter.errors import TargetError

    own = types.ModuleType("flyte")  # as ./flyte.py next to the notebook would be
    own.__spec__ = importlib.machinery.ModuleSpec("flyte", None, origin="./flyte.py")
    monkeypatch.setitem(sys.modules, "flyte", own)

    def plain(x: int) -> int:
        return x

    assert entity_kind(plain) is None
    with pytest.raises(TargetError, match=r"^'plain' is a function, not a Flyte task"):
        sdk_for(plain, "plain")
