"""flytekit (``@task``, ``@workflow``, launch plans) behind the :class:`FlyteSdk` seam.

flytekit is imported inside methods only; the registry loads this module once flytekit is in
``sys.modules`` (before that, no object can be a flytekit entity).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any

from flyte_jupyter.errors import SettingsError
from flyte_jupyter.sdk import inputs as checks
from flyte_jupyter.sdk.base import EntityKind, Interface
from flyte_jupyter.sdk.literals import clip, literal_text

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from flyte_jupyter.sdk.base import LocalRun
    from flyte_jupyter.settings.images import ImageRefs


_WORKFLOW_RUNNER = "flyte_jupyter.runtime.run_workflow"


class FlytekitSdk:
    """The flytekit SDK: flyteidl ``LiteralMap`` inputs and outputs, flytekit's type engine."""

    name = "flytekit"

    def owns(self, obj: object) -> bool:
        """True for a flytekit task, workflow or launch plan."""
        return self.kind(obj) is not None

    def kind(self, obj: object) -> EntityKind | None:
        """``"task"``, ``"workflow"``, ``"launch plan"``, or None."""
        from flytekit.core.base_task import Task
        from flytekit.core.launch_plan import LaunchPlan
        from flytekit.core.workflow import WorkflowBase

        if isinstance(obj, Task):
            return "task"
        if isinstance(obj, WorkflowBase):
            return "workflow"
        if isinstance(obj, LaunchPlan):
            return "launch plan"
        return None

    def origin(self, obj: object) -> tuple[str | None, str | None]:
        """``(function name, module)`` of a task's or workflow's function."""
        fn = getattr(obj, "task_function", None) or getattr(obj, "_workflow_function", None)
        module = getattr(fn, "__module__", None) or getattr(obj, "instantiated_in", None)
        return getattr(fn, "__name__", None), module

    def flyte_name(self, obj: object, module: str) -> str:
        """``<module>.<function>`` for notebook code; else the name flytekit gave it.

        flytekit names a task or workflow after the module its function is defined in, so
        only an entity of the notebook's cells (module ``__main__``) takes ``module``'s name;
        a launch plan keeps its own.
        """
        function, _ = self.origin(obj)
        notebook = function is not None and self.defined_in_notebook(obj)
        if notebook and self.kind(obj) != "launch plan":
            return f"{module}.{function}"
        return str(getattr(obj, "name", ""))

    def defined_in_notebook(self, obj: object) -> bool:
        """True when the entity's code lives in notebook cells (module ``__main__``)."""
        _, module = self.origin(obj)
        return module in (None, "__main__", "")

    def container_images(self, obj: object) -> list[str]:
        """The ``container_image`` strings of a task, or of every task a workflow runs."""
        found: list[str] = []
        seen: set[int] = set()

        def visit(item: object) -> None:
            if item is None or id(item) in seen:
                return
            seen.add(id(item))
            image = getattr(item, "container_image", None)
            if isinstance(image, str):
                found.append(image)
            for node in getattr(item, "nodes", None) or ():
                visit(getattr(node, "flyte_entity", None))
            visit(getattr(item, "workflow", None))  # a launch plan's workflow

        visit(obj)
        return found

    def check_images(self, name: str, obj: object, images: ImageRefs) -> None:
        """Refuse named images the user chose without a default image.

        flytekit's ``{{.image.NAME...}}`` templates are checked by
        :func:`~flyte_jupyter.settings.check_image_refs`; flytekit builds no image. Named images
        from the flytekit config file alone keep pyflyte's behaviour (its default image fills
        in); named images given through ``--image`` and friends mean the user picks images,
        and tasks without ``container_image`` would silently get the stock one.

        Raises
        ------
        SettingsError
            Naming the images, where the first came from, and how to add a default image.
        """
        del name, obj
        if images.unbacked:
            names = ", ".join(image for image, _ in images.unbacked)
            first = images.unbacked[0][1]
            msg = (
                f"named images ({names}, from {first}) are set but no default image: flytekit "
                "tasks without container_image would run on flytekit's stock image. Add a "
                "default image too, e.g. --image ghcr.io/org/image:tag (a value without "
                "'NAME=')."
            )
            raise SettingsError(msg)

    def check_launch(self, name: str, obj: object, backend: str) -> None:
        """Nothing: flytekit tasks and workflows run on every backend."""
        del name, obj, backend

    def called_tasks(self, obj: object) -> list[str]:
        """None: a flytekit entity calling tasks is a workflow, which has its own runner."""
        del obj
        return []

    def interface(self, obj: object) -> Interface:
        """From ``python_interface`` (defaults as ``default_inputs_as_kwargs``)."""
        native: Any = getattr(obj, "python_interface")  # noqa: B009 - typed Any on purpose
        return Interface(
            inputs=dict(native.inputs),
            outputs=dict(native.outputs),
            defaults=dict(native.default_inputs_as_kwargs),
        )

    def check_inputs(
        self, name: str, obj: object, inputs: Mapping[str, Any]
    ) -> tuple[bytes, dict[str, str]]:
        """A serialized flyteidl ``LiteralMap`` of the inputs, and their short display."""
        from flyteidl.core import literals_pb2
        from flytekit.core.context_manager import FlyteContextManager
        from flytekit.core.type_engine import TypeEngine

        interface = self.interface(obj)
        values = checks.complete(name, interface, inputs)
        ctx = FlyteContextManager.current_context()
        literals = {}
        shown = {}
        for arg, python_type in interface.inputs.items():
            value = values[arg]
            checks.check_int64(name, interface, arg, value)
            try:
                literal_type = TypeEngine.to_literal_type(python_type)
                literal = TypeEngine.to_literal(ctx, value, python_type, literal_type)
                # the protobuf form fails on values the Python form accepted (a nested big int)
                literals[arg] = literal.to_flyte_idl()
            except Exception as exc:
                raise checks.type_error(name, interface, arg, value, exc) from exc
            shown[arg] = checks.short(value)
        message = literals_pb2.LiteralMap(literals=literals)
        checks.check_size(
            name,
            message.ByteSize(),
            lambda: {arg: lit.ByteSize() for arg, lit in message.literals.items()},
        )
        return message.SerializeToString(), shown

    def outputs_to_python(self, obj: object, data: bytes) -> Any:
        """A serialized ``LiteralMap`` of outputs, through flytekit's type engine."""
        from flyteidl.core import literals_pb2
        from flytekit.core.context_manager import FlyteContextManager
        from flytekit.core.type_engine import TypeEngine
        from flytekit.models.literals import LiteralMap

        message = literals_pb2.LiteralMap()
        message.ParseFromString(data)
        types = self.interface(obj).outputs
        values = TypeEngine.literal_map_to_kwargs(
            FlyteContextManager.current_context(), LiteralMap.from_flyte_idl(message), dict(types)
        )
        ordered = [values[name] for name in types]
        if not ordered:
            return None
        return ordered[0] if len(ordered) == 1 else tuple(ordered)

    def preview_outputs(self, data: bytes) -> dict[str, str]:
        """``{name: short text}`` of a serialized ``LiteralMap`` (no Python types needed)."""
        from flyteidl.core import literals_pb2

        message = literals_pb2.LiteralMap()
        message.ParseFromString(data)
        return {name: clip(literal_text(lit)) for name, lit in sorted(message.literals.items())}

    def error_message(self, data: bytes) -> str:
        """The message of a flyteidl ``ErrorDocument`` (``error.pb``)."""
        from flyteidl.core import errors_pb2

        document = errors_pb2.ErrorDocument()
        document.ParseFromString(data)
        return document.error.message or "the task failed (empty error message)"

    def local_command(self, run: LocalRun) -> list[str]:
        """A task: its serialized ``pyflyte-fast-execute`` command, templates filled in.

        A workflow: flyte_jupyter's workflow runner (flytekit's local execution), under
        ``pyflyte-fast-execute`` when there is a bundle to download and extract.
        """
        if run.kind == "task":
            values = {
                "{{.input}}": str(run.inputs),
                "{{.outputPrefix}}": str(run.outputs),
                "{{.rawOutputDataPrefix}}": str(run.raw),
                "{{.checkpointOutputPrefix}}": str(run.checkpoint),
                "{{.prevCheckpointPrefix}}": "",
            }
            return [values.get(a, a) for a in run.container_args]
        args = [
            sys.executable,
            "-m",
            _WORKFLOW_RUNNER,
            "--module",
            run.module,
            "--name",
            run.entity,
            "--inputs",
            str(run.inputs),
            "--output-prefix",
            str(run.outputs),
        ]
        if run.bundle_uri is None:
            return args
        fast = ["--additional-distribution", run.bundle_uri, "--dest-dir", ".", "--"]
        return ["pyflyte-fast-execute", *fast, *args]

    def before_fork(self) -> None:
        """Nothing: flytekit starts no thread at import."""

    def after_fork(self) -> None:
        """Rebuild flytekit's default data access and context from this job's environment.

        flytekit builds them when it is imported (``DataConfig.auto()`` reads the S3 endpoint
        and keys from the environment); ``pyflyte-fast-execute`` downloads the bundle with
        them. Made again here, they are what a fresh ``import flytekit`` would make.
        """
        import tempfile

        from flytekit.configuration import DataConfig
        from flytekit.core import context_manager, data_persistence

        scratch = tempfile.mkdtemp(prefix="flyte-")
        provider = data_persistence.FileAccessProvider(
            local_sandbox_dir=f"{scratch}/sandbox",
            raw_output_prefix=f"{scratch}/raw",
            data_config=DataConfig.auto(),
        )
        data_persistence.flyte_tmp_dir = scratch
        data_persistence.default_local_file_access_provider = provider
        context_manager.default_local_file_access_provider = provider
        context_manager.FlyteContextManager.initialize()

    def run_in_process(self, argv: Sequence[str]) -> int | None:
        """``pyflyte-fast-execute`` and ``pyflyte-execute`` (and the workflow runner) here.

        flytekit's own ``fast_execute_task_cmd`` downloads and extracts the bundle and builds
        the ``pyflyte-execute`` command; only the step that would start it as a new process
        (``_run_subprocess``) runs it in this one, from the extracted bundle.
        """
        from flytekit.bin import entrypoint

        from flyte_jupyter.sdk._inprocess import run_click, run_module

        name = argv[0].rsplit("/", 1)[-1]
        if name == "pyflyte-execute":
            return run_click(entrypoint.execute_task_cmd, name, argv[1:])
        if name != "pyflyte-fast-execute":
            return run_module(argv)
        if not hasattr(entrypoint, "_run_subprocess"):  # a flytekit that does it otherwise
            return None

        start = entrypoint._run_subprocess  # noqa: SLF001

        def run_here(cmd: list[str], env: dict[str, str] | None = None) -> int:
            ours = cmd[:1] == ["pyflyte-execute"] or cmd[1:3] == ["-m", _WORKFLOW_RUNNER]
            if not ours or env is None:  # anything else (a pip install) starts as before
                return int(start(cmd, env))
            for folder in reversed(env.get("PYTHONPATH", "").split(os.pathsep)):
                if folder and folder not in sys.path:
                    sys.path.insert(0, folder)  # what PYTHONPATH does for a new interpreter
            os.environ.clear()
            os.environ.update(env)
            return self.run_in_process(cmd) or 0

        entrypoint._run_subprocess = run_here  # noqa: SLF001 - the one step that would exec
        return run_click(entrypoint.fast_execute_task_cmd, name, argv[1:])

    def local_env(self, run: LocalRun) -> dict[str, str]:
        """The ``FLYTE_INTERNAL_*`` variables flytekit reads for its execution context."""
        return {
            "FLYTE_INTERNAL_EXECUTION_ID": run.run_id,
            "FLYTE_INTERNAL_EXECUTION_PROJECT": run.project,
            "FLYTE_INTERNAL_EXECUTION_DOMAIN": run.domain,
            "FLYTE_INTERNAL_TASK_PROJECT": run.project,
            "FLYTE_INTERNAL_TASK_DOMAIN": run.domain,
            "FLYTE_INTERNAL_TASK_NAME": run.flyte_name,
            "FLYTE_INTERNAL_TASK_VERSION": run.version,
        }
