"""flyte v2 (``flyte.TaskEnvironment``, ``@env.task``) behind the :class:`FlyteSdk` seam.

flyte is imported inside methods only; the registry loads this module once ``flyte`` is in
``sys.modules``. v2 has tasks only: a task that calls other tasks is its "workflow". A task's
Flyte name is ``<environment name>.<function name>`` wherever it is defined. Inputs and outputs
are flyteidl2 ``Inputs``/``Outputs`` messages (``inputs.pb``, ``outputs.pb``); the container
entrypoint is ``a0`` (``flyte._bin.runtime``), which needs a run base folder, project, domain
and a non-empty org to run outside a cluster.

flyte's converters are coroutines: they run on a private event loop in a worker thread when
the caller already runs one (an IPython kernel does).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import inspect
import sys
import types
from typing import TYPE_CHECKING, Any

from flyte_jupyter.errors import SettingsError
from flyte_jupyter.sdk import inputs as checks
from flyte_jupyter.sdk.base import EntityKind, Interface
from flyte_jupyter.sdk.literals import clip, literal_text

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from flyte_jupyter.sdk.base import LocalRun
    from flyte_jupyter.settings.images import ImageRefs

ORG = "local"
"""The org of local runs: ``a0`` refuses an empty one (``Org is required for now``)."""
DEFAULT_IMAGE_REF = "default"
"""v2's name of the default image ref (``flyte._image._DEFAULT_IMAGE_REF_NAME``)."""


def resolve(value: Any) -> Any:
    """``value``, or its result when it is a coroutine (run to completion here)."""
    if not inspect.iscoroutine(value):
        return value
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(value)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, value).result()


class FlyteV2Sdk:
    """The flyte v2 SDK: flyteidl2 ``Inputs``/``Outputs``, flyte's type engine, ``a0``."""

    name = "flyte"

    def owns(self, obj: object) -> bool:
        """True for a v2 task (``flyte.TaskTemplate``)."""
        return self.kind(obj) is not None

    def kind(self, obj: object) -> EntityKind | None:
        """``"task"`` for a v2 task, else None (v2 has no workflows or launch plans)."""
        try:
            from flyte import TaskTemplate
        except ImportError:  # a module of the user's named flyte, not the SDK
            return None
        return "task" if isinstance(obj, TaskTemplate) else None

    def origin(self, obj: object) -> tuple[str | None, str | None]:
        """``(function name, module)`` of the task's function."""
        fn = getattr(obj, "func", None)
        return getattr(fn, "__name__", None), getattr(fn, "__module__", None)

    def flyte_name(self, obj: object, module: str) -> str:  # noqa: ARG002 - the seam's signature
        """``<environment name>.<function name>``: v2 names a task after its environment.

        The module does not enter the name, so a task keeps it wherever it is defined.
        """
        return str(getattr(obj, "name", ""))

    def defined_in_notebook(self, obj: object) -> bool:
        """True when the task's function lives in notebook cells (module ``__main__``)."""
        _, module = self.origin(obj)
        return module in (None, "__main__", "")

    def container_images(self, obj: object) -> list[str]:
        """The task's image as written: a URI; ``ref:NAME`` for ``Image.from_ref_name``.

        ``auto`` is v2's default image; a layered image (one flyte would build) reads
        ``layered:<base image>``: :meth:`check_images` refuses it.
        """
        text = image_text(_image(obj))
        return [] if text is None else [text]

    def check_images(self, name: str, obj: object, images: ImageRefs) -> None:
        """Refuse an image ref the settings do not define, and an image flyte would build.

        Raises
        ------
        SettingsError
            Naming the task, the ref and where refs are set.
        """
        defined = images.names
        for image in self.container_images(obj):
            kind, _, value = image.partition(":")
            if kind == "ref" and value not in defined:
                msg = (
                    f"task {name!r} ({self.flyte_name(obj, '')}) uses the image ref {value!r} "
                    f"(flyte.Image.from_ref_name), which is not defined (defined: "
                    f"{', '.join(sorted(defined)) or 'none'}). Set it with --image {value}=<URI>, "
                    f'%config FlyteJupyter.images = ["{value}=<URI>"], or images = '
                    f'["{value}=<URI>"] under [tool.flyte_jupyter] in pyproject.toml.'
                )
                raise SettingsError(msg)
            if kind == "layered":
                msg = (
                    f"task {name!r} ({self.flyte_name(obj, '')}) uses a layered image (based on "
                    f"{value}) that flyte would have to build; flyte_jupyter does not build "
                    "images. Build and push it (flyte build), then give its URI: image="
                    f'"<URI>", or flyte.Image.from_ref_name("NAME") with --image NAME=<URI>.'
                )
                raise SettingsError(msg)

    def check_launch(self, name: str, obj: object, backend: str) -> None:
        """Nothing to refuse: v2 tasks run on the local backend and on a v2 control plane.

        Locally, a task calling tasks runs in flyte's local mode (see :meth:`local_command`);
        on a cluster, v2's own controller runs what it calls.
        """
        del name, obj, backend

    def called_tasks(self, obj: object) -> list[str]:
        """The v2 tasks the task's function refers to (see :func:`called_tasks`)."""
        return called_tasks(obj)

    def interface(self, obj: object) -> Interface:
        """From ``native_interface``: ``{name: (type, default)}`` inputs, typed outputs."""
        native: Any = getattr(obj, "native_interface")  # noqa: B009 - typed Any on purpose
        inputs = {arg: python_type for arg, (python_type, _) in native.inputs.items()}
        defaults = {
            arg: default
            for arg, (_, default) in native.inputs.items()
            if default is not inspect.Parameter.empty
        }
        return Interface(inputs=inputs, outputs=dict(native.outputs), defaults=defaults)

    def check_inputs(
        self, name: str, obj: object, inputs: Mapping[str, Any]
    ) -> tuple[bytes, dict[str, str]]:
        """A serialized flyteidl2 ``Inputs`` message of the inputs, and their short display.

        v2's type engine is strict (``30`` for a ``float`` is refused); each input is converted
        on its own so the error names it.
        """
        from flyte.types import TypeEngine

        common_pb2 = _proto("flyteidl2.task.common_pb2")

        interface = self.interface(obj)
        values = checks.complete(name, interface, inputs)

        async def convert(arg: str, value: Any) -> Any:
            python_type = interface.inputs[arg]
            literal_type = TypeEngine.to_literal_type(python_type)
            return await TypeEngine.to_literal(value, python_type, literal_type)

        literals = []
        shown = {}
        for arg, value in values.items():
            checks.check_int64(name, interface, arg, value)
            try:
                literal = resolve(convert(arg, value))
                literal.ByteSize()  # the protobuf form fails on values Python accepted
            except Exception as exc:
                reason = _reason(exc, interface.inputs[arg], value)
                raise checks.type_error(name, interface, arg, value, reason) from exc
            literals.append(common_pb2.NamedLiteral(name=arg, value=literal))
            shown[arg] = checks.short(value)
        message = common_pb2.Inputs(literals=literals)
        checks.check_size(
            name, message.ByteSize(), lambda: {n.name: n.value.ByteSize() for n in literals}
        )
        return message.SerializeToString(), shown

    def outputs_to_python(self, obj: object, data: bytes) -> Any:
        """A serialized flyteidl2 ``Outputs`` message, through flyte's type engine."""
        from flyte._internal.runtime.convert import Outputs, convert_outputs_to_native

        common_pb2 = _proto("flyteidl2.task.common_pb2")

        message = common_pb2.Outputs()
        message.ParseFromString(data)
        native: Any = getattr(obj, "native_interface")  # noqa: B009 - typed Any on purpose
        return resolve(convert_outputs_to_native(native, Outputs(proto_outputs=message)))

    def preview_outputs(self, data: bytes) -> dict[str, str]:
        """``{name: short text}`` of a serialized ``Outputs`` (no Python types needed)."""
        common_pb2 = _proto("flyteidl2.task.common_pb2")

        message = common_pb2.Outputs()
        message.ParseFromString(data)
        return {item.name: clip(literal_text(item.value)) for item in message.literals}

    def error_message(self, data: bytes) -> str:
        """The message of a flyteidl2 ``ErrorDocument`` (``error.pb``)."""
        execution_pb2 = _proto("flyteidl2.core.execution_pb2")

        document = execution_pb2.ErrorDocument()
        document.ParseFromString(data)
        return document.error.message or "the task failed (empty error message)"

    def local_command(self, run: LocalRun) -> list[str]:
        """The task's serialized ``a0`` command, templates filled, plus what a pod gets.

        Outside a cluster ``a0`` also needs ``--run-base-dir``, ``--project``, ``--domain``
        and a non-empty ``--org``; they go before ``mod``/``instance`` (the resolver's args).
        A task that calls other tasks needs v2's controller (queue and state services of a
        cluster) under ``a0``: it runs with flyte's local mode instead, through
        :mod:`flyte_jupyter.runtime.run_v2_local`, from the same bundle and files.
        """
        if run.kind != "task":
            msg = f"flyte v2 runs tasks only; {run.entity!r} is a {run.kind}."
            raise SettingsError(msg)
        values = {
            "{{.input}}": str(run.inputs),
            "{{.outputPrefix}}": str(run.outputs),
            "{{.rawOutputDataPrefix}}": str(run.raw),
            "{{.checkpointOutputPrefix}}": str(run.checkpoint),
            "{{.prevCheckpointPrefix}}": "",
            "{{.runName}}": run.run_id,
            "{{.actionName}}": "a0",
            "{{.runStartTime}}": "",
        }
        args = [values.get(a, a) for a in run.container_args]
        local = [
            "--run-base-dir",
            str(run.raw.parent / "base"),
            "--project",
            run.project,
            "--domain",
            run.domain,
            "--org",
            ORG,
        ]
        cut = args.index("--resolver") if "--resolver" in args else len(args)
        if run.calls:
            return _local_mode_command(run, args, cut)
        return [*args[:cut], *local, *args[cut:]]

    def before_fork(self) -> None:
        """Find flyte's background event loops: a forked child has their objects, not threads.

        ``flyte.syncify`` runs every synchronous call of the SDK on a loop in a thread started
        at import; a fork copies the loop but not the thread, so the child would wait forever.
        """
        import threading

        from flyte.syncify import _api

        owners = (
            getattr(getattr(t, "_target", None), "__self__", None) for t in threading.enumerate()
        )
        self._loops = [o for o in owners if isinstance(o, _api._BackgroundLoop)]  # noqa: SLF001

    def after_fork(self) -> None:
        """Give each of flyte's background loops a new loop and thread, as its import does."""
        import threading

        for background in getattr(self, "_loops", []):
            background.loop = asyncio.new_event_loop()
            background.thread = threading.Thread(
                name=background.thread.name,
                target=background._run,  # noqa: SLF001 - what its __init__ starts
                daemon=True,
            )
            background.thread.start()

    def run_in_process(self, argv: Sequence[str]) -> int | None:
        """``a0`` (flyte's own click command) or the local-mode runner, in this process."""
        from flyte_jupyter.sdk._inprocess import run_click, run_module

        if argv[0].rsplit("/", 1)[-1] == "a0":
            from flyte._bin import runtime

            return run_click(runtime.main, "a0", argv[1:])
        return run_module(argv)

    def local_env(self, run: LocalRun) -> dict[str, str]:
        """The run's domain where flytekit keeps it (telemetry is off in every run: LocalLauncher).

        ``flyte.current_domain()`` reads the domain ``a0`` initialises flyte with;
        ``flyte_jupyter.current_domain()`` (one call for both SDKs) reads flytekit's variable.
        """
        return {"FLYTE_INTERNAL_EXECUTION_DOMAIN": run.domain}


def _local_mode_command(run: LocalRun, args: list[str], cut: int) -> list[str]:
    """The command of :mod:`flyte_jupyter.runtime.run_v2_local` for ``a0``'s filled ``args``."""

    def value(option: str) -> list[str]:
        if option not in args[:cut]:
            return []
        return [option, args[args.index(option) + 1]]

    return [
        sys.executable,
        "-m",
        "flyte_jupyter.runtime.run_v2_local",
        *value("--tgz"),
        *value("--dest"),
        "--version",
        run.version,
        "--inputs",
        str(run.inputs),
        "--outputs-path",
        str(run.outputs),
        "--raw-data-path",
        str(run.raw),
        "--run-base-dir",
        str(run.raw.parent / "base"),
        "--run-name",
        run.run_id,
        "--project",
        run.project,
        "--domain",
        run.domain,
        *args[cut:],
    ]


def called_tasks(obj: object) -> list[str]:
    """Names of v2 tasks the task's function refers to as globals (sorted; nested code too)."""
    from flyte import TaskTemplate

    fn = getattr(obj, "func", None)
    code = getattr(fn, "__code__", None)
    scope = getattr(fn, "__globals__", {})
    names: set[str] = set()
    todo = [code] if code is not None else []
    while todo:
        current = todo.pop()
        names.update(current.co_names)
        todo.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return sorted(
        n for n in names if isinstance(scope.get(n), TaskTemplate) and scope[n] is not obj
    )


def _proto(module: str) -> Any:
    """A flyteidl2 protobuf module (untyped: imported by name, typed ``Any``)."""
    return importlib.import_module(module)


def image_text(image: Any) -> str | None:
    """A ``TaskEnvironment``'s image as written (see :meth:`FlyteV2Sdk.container_images`)."""
    if image is None:
        return None
    if isinstance(image, str):
        return image
    if image._ref_name is not None:  # noqa: SLF001 - the public API has no getter
        return f"ref:{image._ref_name}"  # noqa: SLF001
    if image._layers or image.dockerfile is not None:  # noqa: SLF001
        return f"layered:{image.base_image or 'debian'}"
    return str(image.base_image)


def _image(obj: object) -> Any:
    env = getattr(obj, "parent_env", None)
    env = env() if callable(env) else env  # a weak reference to the TaskEnvironment
    image = getattr(env, "image", None)
    return image if image is not None else getattr(obj, "image", None)


def _reason(exc: Exception, python_type: Any, value: Any) -> Exception:
    """The ``Reason:`` line of flyte's type error (its other lines repeat what we say).

    An ``int`` for a ``float`` gets the fix: v2, unlike flytekit, does not convert it.
    """
    text = str(exc)
    for line in text.splitlines():
        if line.startswith("Reason: "):
            text = line.removeprefix("Reason: ")
            break
    if python_type is float and type(value) is int:
        text += f" (flyte v2 does not turn an int into a float: pass {value}.0)"
    return type(exc)(text)
