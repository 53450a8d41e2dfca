"""flytekit (``@task``, ``@workflow``, launch plans) behind the :class:`FlyteSdk` seam.

flytekit is imported inside methods only; the registry loads this module once flytekit is in
``sys.modules`` (before that, no object can be a flytekit entity).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from flyte_jupyter.errors import SettingsError
from flyte_jupyter.sdk import inputs as checks
from flyte_jupyter.sdk.base import EntityKind, Interface
from flyte_jupyter.sdk.literals import clip, literal_text

if TYPE_CHECKING:
    from collections.abc import Mapping

    from flyte_jupyter.sdk.base import LocalRun
    from flyte_jupyter.settings.images import ImageRefs


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
            "flyte_jupyter.runtime.run_workflow",
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
