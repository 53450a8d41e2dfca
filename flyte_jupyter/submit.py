"""Launch a task or workflow: check inputs, bundle, publish, serialize, submit.

The application layer's entry for runs: ``%%flyte_run`` and the panel's Run button call
:func:`launch` with the :class:`LaunchRequest` their kernel session builds. Inputs are checked
against the entity's interface first, so a typo costs nothing: no bundle is built and no byte is
uploaded before the inputs are known to fit. The launchers below it (:mod:`flyte_jupyter.launch`)
know nothing of bundling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flyte_jupyter.errors import InputError, LaunchError
from flyte_jupyter.launch.backends import launcher_for, new_run_id
from flyte_jupyter.launch.model import LaunchSpec
from flyte_jupyter.launch.run import Run
from flyte_jupyter.prepare import prepare_and_publish, serialize_for

if TYPE_CHECKING:
    from collections.abc import Mapping

    from flyte_jupyter.bundle import Bundle
    from flyte_jupyter.prepare import BundleJob
    from flyte_jupyter.progress import Progress
    from flyte_jupyter.serialize.api import Serialized
    from flyte_jupyter.settings import Settings

__all__ = ["DryRun", "LaunchRequest", "launch"]


@dataclass(frozen=True)
class LaunchRequest:
    """One launch, as an adapter found it.

    Parameters
    ----------
    entity_name
        The task/workflow's name in the notebook (``square``).
    entity
        The kernel's object: its interface checks the inputs and types the outputs.
    inputs
        Python input values by name.
    job
        What to bundle (see :func:`flyte_jupyter.prepare.job_for`).
    settings
        The resolved settings.
    module
        Module to import the entity from when nothing is bundled (copy style ``none``).
    notebook
        The notebook's path, recorded with the run.
    """

    entity_name: str
    entity: Any
    inputs: Mapping[str, Any]
    job: BundleJob
    settings: Settings
    module: str | None = None
    notebook: str | None = None


@dataclass(frozen=True)
class DryRun:
    """What a launch would submit: the bundle and the serialized specs, nothing started."""

    bundle: Bundle | None
    serialized: Serialized
    inputs: Mapping[str, str]

    def _repr_html_(self) -> str:
        from flyte_jupyter._html import escape

        files = "".join(
            f"<li><code>{escape(f.path.name)}</code></li>" for f in self.serialized.files
        )
        bundle = self.bundle._repr_html_() if self.bundle else "<p>no bundle (copy style none)</p>"
        return f"<div><b>Dry run</b>: nothing was launched.<ul>{files}</ul>{bundle}</div>"


def launch(
    request: LaunchRequest,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> Run | DryRun:
    """Check inputs, bundle, publish, serialize and submit one run.

    ``progress`` is told the ``bundle`` phase (only when an archive is written) and the
    ``upload`` phase (only when bytes are sent), each by name.
    """
    from flyte_jupyter.sdk import find_sdk
    from flyte_jupyter.settings import check_image_refs, effective_version

    sdk = find_sdk(request.entity)
    kind = None if sdk is None else sdk.kind(request.entity)
    if sdk is None or kind not in ("task", "workflow"):
        what = kind or type(request.entity).__name__
        msg = f"{request.entity_name!r} is a {what}; launch a task or workflow."
        raise InputError(msg)
    inputs_pb, shown = sdk.check_inputs(request.entity_name, request.entity, request.inputs)
    settings = request.settings
    if not dry_run:
        sdk.check_launch(request.entity_name, request.entity, settings.backend)
    check_image_refs(sdk.container_images(request.entity), settings.images)
    sdk.check_images(request.entity_name, request.entity, settings.images)
    # a backend that cannot work (no Flyte endpoint, missing package) fails before any bundling
    launcher = None if dry_run else launcher_for(settings, sdk.name)
    bundle = prepare_and_publish(request.job, settings, progress=progress, sdk=sdk.name)
    module = bundle.module if bundle is not None else request.module
    if module is None:
        msg = f"Cannot tell which installed module defines {request.entity_name!r}."
        raise LaunchError(msg)
    serialized = serialize_for(
        bundle,
        [(request.entity_name, module)],
        settings,
        sdk=sdk.name,
        environ=request.job.environ,
    )
    if launcher is None:
        return DryRun(bundle=bundle, serialized=serialized, inputs=shown)
    spec = LaunchSpec(
        run_id=new_run_id(),
        entity=request.entity_name,
        flyte_name=serialized.names[request.entity_name],
        kind=kind,
        sdk=sdk.name,
        module=module,
        inputs_pb=inputs_pb,
        inputs_display=shown,
        serialized=serialized,
        bundle=bundle,
        settings=settings,
        version=effective_version(bundle.digest if bundle else None, settings),
        notebook=request.notebook,
        environ=request.job.environ,
        calls=tuple(sdk.called_tasks(request.entity)),
    )
    return Run(launcher.submit(spec), launcher, request.entity)
