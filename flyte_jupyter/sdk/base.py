"""What differs between Flyte SDKs, as one interface: :class:`FlyteSdk`.

flytekit (``@task``/``@workflow``) implements it in :mod:`flyte_jupyter.sdk.flytekit`; flyte v2
(``flyte.TaskEnvironment``, ``@env.task``) the second, in :mod:`flyte_jupyter.sdk.flyte`. Everything
above this package (capture, bundle, store, settings, panel, server, sidebar) asks the SDK an
entity belongs to (:func:`flyte_jupyter.sdk.sdk_for`) instead of importing one.

An implementation module imports its SDK only inside methods: loading it must stay cheap, and
it is loaded only once its SDK is already imported (an object of it may exist).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from flyte_jupyter.settings.images import ImageRefs

EntityKind = Literal["task", "workflow", "launch plan"]


@dataclass(frozen=True)
class Interface:
    """An entity's inputs and outputs as Python types, in declaration order.

    ``defaults`` holds the default value of each input that has one.
    """

    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    defaults: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LocalRun:
    """One run on this machine, as an SDK's command and environment need it (plain data).

    ``container_args`` are the task's serialized container args (empty for a workflow);
    ``inputs`` is the inputs file, ``outputs`` the folder that gets the outputs or the error
    document, ``raw`` and ``checkpoint`` the run's data folders. ``calls`` names the tasks a
    task calls (see :meth:`FlyteSdk.called_tasks`).
    """

    run_id: str
    kind: EntityKind
    entity: str
    flyte_name: str
    module: str
    version: str
    project: str
    domain: str
    container_args: tuple[str, ...]
    bundle_uri: str | None
    inputs: Path
    outputs: Path
    raw: Path
    checkpoint: Path
    calls: tuple[str, ...] = ()


class FlyteSdk(Protocol):
    """One Flyte SDK, as the rest of flyte_jupyter needs it.

    Attributes
    ----------
    name
        Its key in :data:`flyte_jupyter.sdk.SDKS` (``"flytekit"``).
    """

    name: str

    def owns(self, obj: object) -> bool:
        """True when ``obj`` is a task, workflow or launch plan of this SDK."""
        ...

    def kind(self, obj: object) -> EntityKind | None:
        """``"task"``, ``"workflow"``, ``"launch plan"``, or None when not an entity of it."""
        ...

    def origin(self, obj: object) -> tuple[str | None, str | None]:
        """``(function name, module)`` the entity's code was defined as (None: unknown)."""
        ...

    def flyte_name(self, obj: object, module: str) -> str:
        """The entity's Flyte name where it runs (``nb_quickstart.square``).

        ``module`` is the module the notebook's cells become: it names an entity defined in
        the notebook; an entity imported from elsewhere keeps its own name.
        """
        ...

    def defined_in_notebook(self, obj: object) -> bool:
        """True when the entity's code lives in notebook cells (module ``__main__``)."""
        ...

    def container_images(self, obj: object) -> list[str]:
        """The image strings of a task, or of every task a workflow runs, as written."""
        ...

    def check_images(self, name: str, obj: object, images: ImageRefs) -> None:
        """Refuse images the settings cannot give the entity ``name``.

        ``images`` are the settings' images (``default`` and the named refs). flytekit's
        ``{{.image.NAME...}}`` templates are checked by
        :func:`flyte_jupyter.settings.check_image_refs` from :meth:`container_images`.

        Raises
        ------
        flyte_jupyter.errors.SettingsError
            An image ref is not defined, or the image would have to be built.
        """
        ...

    def check_launch(self, name: str, obj: object, backend: str) -> None:
        """Refuse a launch of entity ``name`` this project cannot run on ``backend`` yet.

        Raises
        ------
        flyte_jupyter.errors.LaunchError
            Saying what works instead.
        """
        ...

    def called_tasks(self, obj: object) -> list[str]:
        """Names of the tasks a task calls (flyte v2's "workflows"); empty for others."""
        ...

    def interface(self, obj: object) -> Interface:
        """The entity's inputs (with defaults) and outputs as Python types."""
        ...

    def check_inputs(
        self, name: str, obj: object, inputs: Mapping[str, Any]
    ) -> tuple[bytes, dict[str, str]]:
        """The inputs serialized as the SDK's run input message, and their short display.

        Raises
        ------
        flyte_jupyter.errors.InputError
            An input is missing, unexpected, or of a type the interface does not take, does
            not fit its Flyte type, or the inputs are too large for one message.
        """
        ...

    def outputs_to_python(self, obj: object, data: bytes) -> Any:
        """A run's serialized outputs as Python values: one value, a tuple for several, or None."""
        ...

    def preview_outputs(self, data: bytes) -> dict[str, str]:
        """``{name: short text}`` of serialized outputs, without the entity's Python types."""
        ...

    def error_message(self, data: bytes) -> str:
        """The message of a run's serialized error document."""
        ...

    def local_command(self, run: LocalRun) -> list[str]:
        """The command that runs ``run`` here as a Flyte pod would.

        The argv; its first item is a console script's name or a path.
        """
        ...

    def local_env(self, run: LocalRun) -> dict[str, str]:
        """Variables the command needs beyond the kernel's environment and the settings'."""
        ...

    # -- the warm worker (flyte_jupyter.worker): forked children run the SDK's entrypoints -----

    def before_fork(self) -> None:
        """In the worker, after its imports: note what each forked child must rebuild."""
        ...

    def after_fork(self) -> None:
        """In a forked child, its job's environment set: rebuild what the SDK built at import.

        What the SDK read from the environment when the worker imported it (data access
        configuration, background threads, which a fork does not copy) is made again, so the
        child is as if it had imported the SDK with the job's environment.
        """
        ...

    def run_in_process(self, argv: Sequence[str]) -> int | None:
        """Run :meth:`local_command`'s ``argv`` in this process: the exit code it would have.

        The same entrypoint code the console scripts run, without starting them: the steps a
        script would run in a child process run here. None when ``argv`` is not one of the
        SDK's commands (the caller then executes it).
        """
        ...
