"""What a launch needs and what it records: plain data shared by every backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args

from flyte_jupyter.capture.origins import EXTRA_KEY

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from flyte_jupyter.bundle import Bundle
    from flyte_jupyter.sdk import EntityKind
    from flyte_jupyter.serialize.api import Serialized
    from flyte_jupyter.settings import Settings

Status = Literal["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "ABORTED"]
STATUSES: tuple[str, ...] = get_args(Status)
TERMINAL: frozenset[str] = frozenset({"SUCCEEDED", "FAILED", "ABORTED"})


@dataclass(frozen=True)
class LaunchSpec:
    """Everything a backend needs to start one run.

    Parameters
    ----------
    run_id
        The run's id (also its Flyte execution name).
    entity
        Python name of the task/workflow in the generated module (``square``).
    flyte_name
        Its Flyte name (``nb_quickstart.square``).
    kind
        ``task`` or ``workflow``.
    sdk
        The Flyte SDK the entity belongs to, by its key in :data:`flyte_jupyter.sdk.SDKS`
        (``flytekit``): it gives the local command and reads the run's files.
    module
        Module to import it from (the generated module, or an installed one).
    inputs_pb
        The inputs as a serialized flyteidl ``LiteralMap``.
    inputs_display
        ``{name: repr}`` of the inputs, for run lists and pages.
    serialized
        The serialized specs (TaskSpec/WorkflowSpec/LaunchPlan files).
    bundle
        The published bundle (None for copy style ``none``).
    settings
        The resolved settings.
    version
        The version the entities were serialized under.
    notebook
        The notebook path, if known.
    environ
        The environment the run starts from (the kernel's at ``%load_ext``), before the
        settings' ``env``; None: this process's environment.
    calls
        The tasks a task calls (:meth:`flyte_jupyter.sdk.FlyteSdk.called_tasks`).
    """

    run_id: str
    entity: str
    flyte_name: str
    kind: EntityKind
    sdk: str
    module: str
    inputs_pb: bytes
    inputs_display: Mapping[str, str]
    serialized: Serialized
    bundle: Bundle | None
    settings: Settings
    version: str
    notebook: str | None = None
    environ: Mapping[str, str] | None = None
    calls: tuple[str, ...] = ()

    def queued_record(
        self, backend: str, now: float, *, extra: Mapping[str, Any], **fields: Any
    ) -> RunRecord:
        """The run's first record (QUEUED), as every backend writes it; ``fields`` add to it."""
        bundle = self.bundle
        return RunRecord(
            id=self.run_id,
            backend=backend,
            entity=self.entity,
            flyte_name=self.flyte_name,
            kind=self.kind,
            project=self.settings.project,
            domain=self.settings.domain,
            version=self.version,
            status="QUEUED",
            created_at=now,
            updated_at=now,
            notebook=self.notebook,
            bundle_digest=bundle.digest if bundle else None,
            bundle_uri=bundle.uri if bundle else None,
            inputs=dict(self.inputs_display),
            extra={**extra, "sdk": self.sdk, **_origins(bundle)},
            **fields,
        )


@dataclass(frozen=True)
class DeploySpec:
    """Everything a backend needs to register entities of one SDK without running them.

    Parameters
    ----------
    sdk
        The SDK of every serialized entity (``flytekit`` or ``flyte``).
    serialized
        The serialized specs: every entity to register (a workflow's tasks and its default
        launch plan included).
    bundle
        The published bundle (``uri`` set); None for copy style ``none``.
    settings
        The resolved settings (project, domain, the cluster's endpoint).
    version
        The version to register under.
    """

    sdk: str
    serialized: Serialized
    bundle: Bundle | None
    settings: Settings
    version: str


@dataclass(frozen=True)
class Deployed:
    """One entity a deploy registered, or found registered with an identical spec.

    Parameters
    ----------
    kind
        ``task``, ``workflow`` or ``launch plan``.
    name
        Its Flyte name (``nb_quickstart.square``; ``env.square`` for flyte v2).
    version
        The version it is registered under.
    status
        ``registered`` (new), or ``already registered`` (the same spec was there).
    url
        Its page in the Flyte console, if known.
    """

    kind: str
    name: str
    version: str
    status: str
    url: str | None


def _origins(bundle: Bundle | None) -> dict[str, Any]:
    """What ``extra`` keeps to point the run's tracebacks at notebook cells.

    Written with the first record, before the run starts (the format is in
    :mod:`flyte_jupyter.capture.origins`).
    """
    if bundle is None or bundle.origins is None:
        return {}
    return {EXTRA_KEY: bundle.origins.to_json()}


@dataclass(frozen=True)
class RunRecord:
    """A run as the run store keeps it (one row, plus its status history)."""

    id: str
    backend: str
    entity: str
    flyte_name: str
    kind: str
    project: str
    domain: str
    version: str
    status: Status
    created_at: float
    updated_at: float
    url: str | None = None
    notebook: str | None = None
    bundle_digest: str | None = None
    bundle_uri: str | None = None
    inputs: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[str, str] | None = None
    error: str | None = None
    run_dir: str | None = None
    log_path: str | None = None
    remote_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    # the supervisor's lease, renewed while it lives (see flyte_jupyter.launch.liveness)
    heartbeat_at: float | None = None
    events: tuple[tuple[float, str, str], ...] = ()

    @property
    def done(self) -> bool:
        """True once the run reached a terminal status."""
        return self.status in TERMINAL

    @property
    def sdk(self) -> str:
        """The SDK of the run's entity (``flytekit`` or ``flyte``), kept in ``extra``.

        Records written before the SDK was recorded are flytekit runs.
        """
        return str(self.extra.get("sdk") or "flytekit")


class Launcher(Protocol):
    """A backend: starts runs and answers for them. Implementations: local, remote."""

    name: str

    def submit(self, spec: LaunchSpec) -> RunRecord:
        """Start the run; return its record as soon as it is submitted (status QUEUED)."""
        ...

    def refresh(self, record: RunRecord) -> RunRecord:
        """Return the run's current record (polling the backend if it is remote)."""
        ...

    def outputs_pb(self, record: RunRecord) -> bytes | None:
        """The outputs as a serialized flyteidl ``LiteralMap`` once SUCCEEDED, else None."""
        ...

    def logs(self, record: RunRecord) -> str:
        """The run's log text so far."""
        ...

    def cancel(self, record: RunRecord) -> RunRecord:
        """Stop the run (its whole process group locally); record ABORTED."""
        ...

    def deploy(self, spec: DeploySpec) -> list[Deployed]:
        """Register the serialized entities under ``spec.version``; execute nothing.

        An entity registered already with an identical spec is reported as such; one with a
        different spec under the same version is an error (a version names one definition).
        """
        ...


@dataclass(frozen=True)
class RunPaths:
    """Where a local run keeps its files (``<home>/runs/<id>/``)."""

    root: Path

    @property
    def inputs(self) -> Path:
        """The inputs ``LiteralMap`` (``{{.input}}``)."""
        return self.root / "inputs.pb"

    @property
    def outputs(self) -> Path:
        """The output prefix (``{{.outputPrefix}}``): ``outputs.pb`` or ``error.pb`` go here."""
        return self.root / "outputs"

    @property
    def raw(self) -> Path:
        """The raw output data prefix (``{{.rawOutputDataPrefix}}``)."""
        return self.root / "raw"

    @property
    def checkpoint(self) -> Path:
        """The checkpoint prefix (``{{.checkpointOutputPrefix}}``)."""
        return self.root / "checkpoint"

    @property
    def work(self) -> Path:
        """The run's working folder; the bundle is extracted here (``--dest-dir .``)."""
        return self.root / "work"

    @property
    def log(self) -> Path:
        """Everything the run's processes print."""
        return self.root / "run.log"

    @property
    def bundle(self) -> Path:
        """The bundle's summary for the run page (digest, files, source, dropped, excluded)."""
        return self.root / "bundle.json"

    @property
    def command(self) -> Path:
        """The command and environment the supervisor runs (JSON)."""
        return self.root / "command.json"

    @property
    def cancel_request(self) -> Path:
        """Written to ask the supervisor to stop the run, from wherever it cannot be signalled."""
        return self.root / "cancel-requested"
