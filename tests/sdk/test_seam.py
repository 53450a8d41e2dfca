"""The SDK seam: which Flyte SDK an object belongs to, its kind, Flyte name and interface.

flytekit is one implementation (flyte v2 the other: test_flyte_v2.py); the registry must
recognise its entities, refuse anything else with what to do, and never import an SDK the notebook did not import.
"""

import json
import subprocess
import sys
import textwrap

import pytest
from shell_helpers import run_cell

from flyte_jupyter.errors import InputError, TargetError
from flyte_jupyter.sdk import (
    SDKS,
    LocalRun,
    SdkEntry,
    entity_kind,
    find_sdk,
    load_sdk,
    registry,
    sdk_for,
)

MODULE = """
from flytekit import LaunchPlan, task, workflow

@task(container_image="ghcr.io/org/a:1")
def square(x: int, y: int = 2) -> int:
    return x * y

@task
def pair(x: int) -> tuple[int, str]:
    return x, str(x)

@workflow
def wf(x: int) -> int:
    return square(x=x)

every_day = LaunchPlan.get_or_create(wf, name="every_day")
"""


@pytest.fixture(scope="module")
def entities(tmp_path_factory):
    # imported once: flytekit refuses a second launch plan of the same name in one process
    folder = tmp_path_factory.mktemp("entities")
    (folder / "shapes_mod.py").write_text(MODULE)
    sys.path.insert(0, str(folder))
    try:
        import shapes_mod
    finally:
        sys.path.remove(str(folder))
    return shapes_mod


def test_flytekit_entities_are_owned_by_flytekit_with_their_kind_and_flyte_name(entities):
    cases = {"square": "task", "wf": "workflow", "every_day": "launch plan"}
    for attr, kind in cases.items():
        obj = getattr(entities, attr)
        sdk = sdk_for(obj, attr)
        assert sdk.name == "flytekit"
        assert sdk.kind(obj) == kind == entity_kind(obj)
        # the name flytekit itself gave the entity when it was imported from this module
        assert sdk.flyte_name(obj, "shapes_mod") == obj.name
    sdk = sdk_for(entities.square)
    # imported from its own module, it keeps the module's name wherever the notebook runs
    assert sdk.flyte_name(entities.square, "nb_other") == "shapes_mod.square"
    assert sdk.origin(entities.square) == ("square", "shapes_mod")
    assert sdk.origin(entities.wf) == ("wf", "shapes_mod")
    assert not sdk.defined_in_notebook(entities.square)
    assert sdk.container_images(entities.wf) == ["ghcr.io/org/a:1"]


def test_an_entity_of_the_notebook_takes_the_generated_module_name(ip):
    run_cell(ip, "from flytekit import task\n@task\ndef square(x: int) -> int:\n    return x * x\n")
    square = ip.user_ns["square"]
    sdk = sdk_for(square, "square")
    assert sdk.defined_in_notebook(square)
    assert sdk.origin(square) == ("square", "__main__")
    bundle = ip.run_line_magic("flyte_bundle", "square")
    # the name %flyte_serialize writes (tests/test_serialize.py), before anything is serialized
    assert sdk.flyte_name(square, bundle.module) == "nb_my_analysis.square"


def test_the_interface_checked_inputs_and_outputs_go_through_flytekit(entities):
    sdk = sdk_for(entities.square)
    interface = sdk.interface(entities.square)
    assert dict(interface.inputs) == {"x": int, "y": int}
    assert dict(interface.defaults) == {"y": 2}
    data, shown = sdk.check_inputs("square", entities.square, {"x": 3})
    assert shown == {"x": "3", "y": "2"}
    from flyteidl.core import literals_pb2

    message = literals_pb2.LiteralMap()
    message.ParseFromString(data)
    assert message.literals["x"].scalar.primitive.integer == 3
    # the same bytes read back as the outputs of a task with those outputs
    assert sdk.outputs_to_python(entities.pair, _literal_map(o0=4, o1="4")) == (4, "4")
    with pytest.raises(
        InputError, match=r"missing x\. Call it as square\(x: int, y: int = \.\.\.\)"
    ):
        sdk.check_inputs("square", entities.square, {})


def _literal_map(**values):
    from flytekit.core.context_manager import FlyteContextManager
    from flytekit.core.type_engine import TypeEngine

    ctx = FlyteContextManager.current_context()
    types = {k: type(v) for k, v in values.items()}
    return TypeEngine.dict_to_literal_map(ctx, values, types).to_flyte_idl().SerializeToString()


def test_a_plain_function_or_an_unknown_object_is_a_target_error_saying_what_to_do():
    def plain(x: int) -> int:
        return x

    assert find_sdk(plain) is None
    assert entity_kind(plain) is None
    with pytest.raises(TargetError) as info:
        sdk_for(plain, "plain")
    assert str(info.value) == (
        "'plain' is a function, not a Flyte task or workflow: decorate it with "
        "@task or @workflow (from flytekit import task, workflow) or @env.task "
        "(flyte.TaskEnvironment)."
    )
    with pytest.raises(TargetError, match=r"^The object is a object, not a Flyte task"):
        sdk_for(object())


def _fresh(code):
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_recognising_a_plain_object_imports_no_sdk():
    seen = _fresh(
        """
        import json, sys
        from flyte_jupyter.errors import TargetError
        from flyte_jupyter.sdk import entity_kind, sdk_for
        kinds = [entity_kind(len), entity_kind(lambda: 0), entity_kind(None)]
        try:
            sdk_for(print, "print")
        except TargetError as exc:
            error = str(exc)
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("flytekit", "flyte"))
        implementation = "flyte_jupyter.sdk.flytekit" in sys.modules
        print(json.dumps([kinds, error, loaded, implementation]))
        """
    )
    assert seen[0] == [None, None, None]
    assert seen[1].startswith("'print' is a builtin_function_or_method, not a Flyte task")
    assert seen[2] == []
    assert seen[3] is False


def test_a_missing_sdk_is_named_with_its_install_command():
    # flytekit made unimportable, as where only another SDK is installed
    error = _fresh(
        """
        import json, sys
        sys.modules["flytekit"] = None
        from flyte_jupyter.errors import TargetError
        from flyte_jupyter.sdk import sdk_for
        def plain():
            pass
        try:
            sdk_for(plain, "plain")
        except TargetError as exc:
            print(json.dumps(str(exc)))
        """
    )
    assert error == (
        "'plain' is a function, not a Flyte task or workflow: decorate it with @task or "
        "@workflow (from flytekit import task, workflow) after installing it "
        "(pip install flytekit) or @env.task (flyte.TaskEnvironment)."
    )


TOY = """
class Entity:
    pass

class ToySdk:
    name = "toy"

    def owns(self, obj):
        return isinstance(obj, Entity)

    def kind(self, obj):
        return "task" if self.owns(obj) else None
"""


def test_a_second_sdk_plugs_in_and_is_asked_only_once_its_package_is_imported(
    tmp_path, monkeypatch
):
    (tmp_path / "toy_sdk.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = SdkEntry("toy_sdk:ToySdk", "toy_sdk", "@toy.task", "pip install toy")
    monkeypatch.setitem(registry._SDKS, "toy", entry)
    monkeypatch.delitem(sys.modules, "toy_sdk", raising=False)
    assert SDKS["toy"] == entry  # the public view follows the registry
    with pytest.raises(TargetError, match=r"@task or @workflow \(.*\) or @toy\.task\.$"):
        sdk_for(object(), "thing")
    assert "toy_sdk" not in sys.modules  # recognising nothing imported it
    import toy_sdk

    monkeypatch.setattr(registry, "_loaded", {})
    assert sdk_for(toy_sdk.Entity()).name == "toy"
    assert entity_kind(toy_sdk.Entity()) == "task"


def _local_run(tmp_path, kind, container_args=(), bundle_uri=None):
    return LocalRun(
        run_id="fabc",
        kind=kind,
        entity="square",
        flyte_name="nb_t.square",
        module="nb_t",
        version="v1",
        project="p",
        domain="development",
        container_args=tuple(container_args),
        bundle_uri=bundle_uri,
        inputs=tmp_path / "inputs.pb",
        outputs=tmp_path / "outputs",
        raw=tmp_path / "raw",
        checkpoint=tmp_path / "checkpoint",
    )


def test_the_local_command_of_a_task_is_its_serialized_command_with_the_run_paths(tmp_path):
    sdk = load_sdk("flytekit")
    args = [
        "pyflyte-fast-execute", "--additional-distribution", "s3://b/fast1.tar.gz", "--",
        "pyflyte-execute", "--inputs", "{{.input}}", "--output-prefix", "{{.outputPrefix}}",
        "--raw-output-data-prefix", "{{.rawOutputDataPrefix}}",
        "--checkpoint-path", "{{.checkpointOutputPrefix}}",
        "--prev-checkpoint", "{{.prevCheckpointPrefix}}",
    ]  # fmt: skip
    argv = sdk.local_command(_local_run(tmp_path, "task", args))
    assert argv[:5] == args[:5]
    assert argv[5:] == [
        "--inputs", str(tmp_path / "inputs.pb"), "--output-prefix", str(tmp_path / "outputs"),
        "--raw-output-data-prefix", str(tmp_path / "raw"),
        "--checkpoint-path", str(tmp_path / "checkpoint"), "--prev-checkpoint", "",
    ]  # fmt: skip
    env = sdk.local_env(_local_run(tmp_path, "task", args))
    assert env["FLYTE_INTERNAL_TASK_NAME"] == "nb_t.square"
    assert env["FLYTE_INTERNAL_EXECUTION_ID"] == "fabc"
    assert env["FLYTE_INTERNAL_TASK_VERSION"] == "v1"


def test_a_workflow_runs_in_the_runner_under_fast_execute_when_bundled(tmp_path):
    sdk = load_sdk("flytekit")
    runner = sdk.local_command(_local_run(tmp_path, "workflow"))
    assert runner[:3] == [sys.executable, "-m", "flyte_jupyter.runtime.run_workflow"]
    assert runner[3:7] == ["--module", "nb_t", "--name", "square"]
    bundled = sdk.local_command(_local_run(tmp_path, "workflow", bundle_uri="s3://b/f.tar.gz"))
    assert bundled == [
        "pyflyte-fast-execute", "--additional-distribution", "s3://b/f.tar.gz",
        "--dest-dir", ".", "--", *runner,
    ]  # fmt: skip


def test_a_runs_outputs_and_error_document_are_read_by_the_sdk():
    from flyteidl.core import errors_pb2

    sdk = load_sdk("flytekit")
    assert sdk.preview_outputs(_literal_map(o0=4, o1="4")) == {"o0": "4", "o1": "'4'"}
    document = errors_pb2.ErrorDocument(error=errors_pb2.ContainerError(message="boom"))
    assert sdk.error_message(document.SerializeToString()) == "boom"
    empty = errors_pb2.ErrorDocument().SerializeToString()
    assert sdk.error_message(empty) == "the task failed (empty error message)"
