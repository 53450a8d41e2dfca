"""The remote backend: register and execute on a Flyte cluster with flytekit's ``FlyteRemote``.

A launch registers the serialized specs exactly as ``pyflyte register`` does (tasks first, then
workflows and launch plans, each created through the admin client as
``FlyteRemote.raw_register`` creates it, under the settings' version; an entity that already
exists with an identical spec under that version is kept), then creates the execution with the
inputs as the literal map that was checked against the entity's interface. The run's URL is
the execution's page in the Flyte console; status, outputs and cancel go through the same
``FlyteRemote`` client. A deploy (:meth:`RemoteLauncher.deploy`, ``%flyte_deploy``) registers
the same way and executes nothing.

The cluster must be able to read the bundle: either the configured store is a bucket the
cluster reads (``s3://...``), or the store is ``flyte`` and the bundle goes through Flyte's
data proxy (:class:`~flyte_jupyter.store.dataproxy.DataProxyStore`, which uploads with
:meth:`RemoteLauncher.upload_file`, as ``pyflyte register`` uploads its package).

The connection comes from the flytekit config (``Config.auto`` of the settings' config file:
TLS, auth, console endpoint, storage) with the settings' ``endpoint`` on top. gRPC errors become
:class:`~flyte_jupyter.errors.LaunchError` with the server's message.
"""

from __future__ import annotations

import contextlib
import dataclasses
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte_jupyter._private import private_dir, secure_home
from flyte_jupyter.errors import FlyteJupyterError, LaunchError, StoreError
from flyte_jupyter.launch.cluster import (
    cancel_on_cluster,
    check_endpoint,
    check_readable,
    console_logs,
    split_endpoint,
    version_hint,
)
from flyte_jupyter.launch.flyteadmin import (
    PHASE_NAMES,
    PHASES,
    RPC_TIMEOUT,
    error_text,
    explain,
    flyte_config,
    not_found,
)
from flyte_jupyter.launch.remote_nodes import RemoteNodes, node_entities
from flyte_jupyter.launch.runstore import RunStore
from flyte_jupyter.redaction import redacting_logger
from flyte_jupyter.sdk import load_sdk

if TYPE_CHECKING:
    from collections.abc import Iterator

    from flyte_jupyter.launch.model import Deployed, DeploySpec, LaunchSpec, RunRecord
    from flyte_jupyter.serialize.api import Serialized, SerializedFile
    from flyte_jupyter.settings import Settings

__all__ = [
    "RemoteLauncher",
    "explain",
    "flyte_config",
    "split_endpoint",
]

CANCEL_CAUSE = "cancelled from flyte_jupyter"
logger = redacting_logger(__name__)


class RemoteLauncher:
    """Start and follow runs on a Flyte cluster, recording them in the shared run store.

    Parameters
    ----------
    home
        flyte_jupyter's state folder (the run store is ``home/runs.sqlite``).
    config
        flytekit ``Config`` (see :func:`flyte_config`).
    project, domain
        Defaults for the ``FlyteRemote``.
    """

    name = "remote"
    poll_interval = 1.0
    """Ask admin for a run's status at most this often (seconds); in between, the store answers."""

    def __init__(self, home: Path, *, config: Any, project: str, domain: str) -> None:
        self.home = home
        self.run_store = RunStore(home / "runs.sqlite")
        self.config = config
        self.endpoint: str = config.platform.endpoint
        self.project = project
        self.domain = domain
        self._remote: Any = None
        self._lock = threading.Lock()
        self._polled: dict[str, float] = {}
        self._outputs: dict[str, bytes] = {}
        self._nodes = RemoteNodes()

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteLauncher:
        """The remote launcher for these settings (no network call yet)."""
        return cls(
            settings.home,
            config=flyte_config(settings),
            project=settings.project,
            domain=settings.domain,
        )

    @property
    def remote(self) -> Any:
        """The ``FlyteRemote`` (made on first use; its gRPC channel connects lazily)."""
        with self._lock:
            if self._remote is None:
                from flytekit.remote import FlyteRemote

                self._remote = FlyteRemote(
                    config=self.config,
                    default_project=self.project,
                    default_domain=self.domain,
                    interactive_mode_enabled=False,  # the code ships as a bundle, not pickled
                )
            return self._remote

    @contextlib.contextmanager
    def _admin(
        self,
        action: str,
        error: type[FlyteJupyterError] = LaunchError,
        *,
        hint: str = "",
    ) -> Iterator[None]:
        """Bound each call by :data:`RPC_TIMEOUT`; turn failures into ``error`` with a message.

        ``hint`` is added to an INVALID_ARGUMENT answer.
        """
        from flytekit.clients.grpc_utils.deadline_interceptor import scoped_grpc_deadline

        try:
            with scoped_grpc_deadline(RPC_TIMEOUT):
                yield
        except FlyteJupyterError:
            raise
        except Exception as exc:
            message = explain(exc, action, self.endpoint)
            if hint and message.endswith("(INVALID_ARGUMENT)."):
                message = f"{message} {hint}"
            raise error(message) from exc

    # -- bundle ----------------------------------------------------------------------------------

    def upload_file(self, path: Path) -> str:
        """Upload a bundle archive through Flyte's data proxy; return its URI for the cluster.

        ``FlyteRemote.upload_file``: ``CreateUploadLocation`` (with the archive's MD5) gives a
        signed URL, and the archive is PUT there.

        Raises
        ------
        StoreError
            Admin refused the upload location, or the PUT failed.
        """
        with self._admin("upload the bundle through Flyte's data proxy", StoreError):
            _, native_url = self.remote.upload_file(path, project=self.project, domain=self.domain)
        return str(native_url)

    # -- launcher --------------------------------------------------------------------------------

    def submit(self, spec: LaunchSpec) -> RunRecord:
        """Register the serialized entities, create the execution, record the run (QUEUED)."""
        check_readable(spec.bundle, spec.settings)
        target = self._register(spec)
        execution_id = self._create_execution(spec, target)
        now = time.time()
        extra: dict[str, Any] = {"endpoint": self.endpoint}
        folder = None
        if spec.kind == "workflow":  # its nodes are listed into the run's folder (run page)
            extra["node_entities"] = node_entities(spec)
            folder = private_dir(secure_home(self.home) / "runs" / spec.run_id)
        record = spec.queued_record(
            self.name,
            now,
            extra=extra,
            url=str(self.remote.generate_console_url(execution_id)),
            remote_id=f"{execution_id.project}/{execution_id.domain}/{execution_id.name}",
            run_dir=str(folder) if folder else None,
        )
        self.run_store.add(record, f"execution created on {self.endpoint}")
        return record

    def _register(self, spec: LaunchSpec) -> Any:
        """Register every serialized file; return the identifier to execute."""
        wanted = "task" if spec.kind == "task" else "launch plan"
        target = None
        for item, ident, _new in self._register_all(
            spec.serialized, spec.settings, spec.version, verb="launch"
        ):
            if item.kind == wanted and item.name == spec.flyte_name:
                target = ident
        if target is None:
            msg = f"No {wanted} {spec.flyte_name!r} among the serialized entities to register."
            raise LaunchError(msg)
        return target

    def deploy(self, spec: DeploySpec) -> list[Deployed]:
        """Register the serialized entities under the version, as ``pyflyte register`` does.

        Nothing is executed. Each entity is reported ``registered`` (new) or ``already
        registered`` (admin answered ALREADY_EXISTS: the same spec under that version), with
        its page in the Flyte console. A different spec under the same version is a
        :class:`~flyte_jupyter.errors.LaunchError` saying to deploy under a new version.
        """
        from flyte_jupyter.launch.model import Deployed

        if spec.sdk != "flytekit":  # pragma: no cover - launcher_for picks the v2 launcher
            msg = f"The flytekit remote backend cannot deploy {spec.sdk} entities."
            raise LaunchError(msg)
        check_readable(spec.bundle, spec.settings)
        return [
            Deployed(
                kind=item.kind,
                name=item.name,
                version=spec.version,
                status="registered" if new else "already registered",
                url=str(self.remote.generate_console_url(ident)),
            )
            for item, ident, new in self._register_all(
                spec.serialized, spec.settings, spec.version, verb="deploy"
            )
        ]

    def _register_all(
        self, serialized: Serialized, settings: Settings, version: str, *, verb: str
    ) -> list[tuple[SerializedFile, Any, bool]]:
        """Register every serialized file: ``(file, identifier, new?)`` of each, in order.

        Like ``pyflyte register``: tasks first, then workflows and launch plans in
        serialization order (dependencies first), with no default launch plan made on the
        side (the serialized one is registered). The admin client is called directly, as
        ``FlyteRemote.raw_register`` calls it, because ``raw_register`` swallows
        ALREADY_EXISTS and so cannot tell a new entity from one registered before. A
        different spec under the same version (INVALID_ARGUMENT) is an error whose message
        says to ``verb`` under a new version.
        """
        from flytekit.models.core.identifier import Identifier

        hint = version_hint("entity", verb)
        out = []
        for item in sorted(serialized.files, key=lambda f: f.kind != "task"):  # stable
            entity, name, resource = _control_plane_entity(item)
            ident = Identifier(resource, settings.project, settings.domain, name, version)
            with self._admin(f"register {item.kind} {name} version {version}", hint=hint):
                new = self._create(item.kind, ident, entity)
            out.append((item, ident, new))
        return out

    def _create(self, kind: str, ident: Any, entity: Any) -> bool:
        """Create one entity; False when admin has it already (ALREADY_EXISTS: the same spec)."""
        from flytekit.exceptions.user import FlyteEntityAlreadyExistsException

        client = self.remote.client
        try:
            if kind == "task":
                client.create_task(ident, entity)
            elif kind == "workflow":
                client.create_workflow(ident, entity)
            else:
                client.create_launch_plan(ident, entity.spec)
        except FlyteEntityAlreadyExistsException:
            return False
        return True

    def _create_execution(self, spec: LaunchSpec, target: Any) -> Any:
        """``CreateExecution`` of ``target`` named after the run, with the literal inputs."""
        from flyteidl.core import literals_pb2
        from flytekit.exceptions.user import FlyteEntityAlreadyExistsException
        from flytekit.models.core.identifier import WorkflowExecutionIdentifier
        from flytekit.models.execution import ExecutionMetadata, ExecutionSpec, NotificationList
        from flytekit.models.literals import LiteralMap

        inputs = LiteralMap.from_flyte_idl(literals_pb2.LiteralMap.FromString(spec.inputs_pb))
        execution_spec = ExecutionSpec(
            target,
            # as FlyteRemote.execute: admin replaces the principal from the caller's token
            ExecutionMetadata(ExecutionMetadata.ExecutionMode.MANUAL, "placeholder", 0),
            notifications=NotificationList([]),
        )
        project, domain = spec.settings.project, spec.settings.domain
        with self._admin(f"execute {spec.flyte_name} version {spec.version}"):
            try:
                return self.remote.client.create_execution(
                    project, domain, spec.run_id, execution_spec, inputs
                )
            except FlyteEntityAlreadyExistsException:
                # a retried call whose first attempt went through: as FlyteRemote.execute does
                return WorkflowExecutionIdentifier(project, domain, spec.run_id)

    def refresh(self, record: RunRecord) -> RunRecord:
        """The run's current record, asking admin at most every :attr:`poll_interval` s."""
        current = self.run_store.get(record.id) or record
        if current.done:
            return current
        now = time.monotonic()
        if now - self._polled.get(record.id, -float("inf")) < self.poll_interval:
            return current
        self._polled[record.id] = now
        execution_id = self._execution_id(current)
        try:
            with self._admin(f"get the status of run {record.id}"):
                execution = self.remote.client.get_execution(execution_id)
        except LaunchError as exc:
            if not not_found(exc):
                raise
            # admin forgot it (deleted, or another admin at this address): it never ends
            message = (
                f"Flyte admin {self.endpoint} no longer knows execution {current.remote_id} "
                "(NOT_FOUND): the run's outcome cannot be known. Launch it again."
            )
            self.run_store.update(record.id, "FAILED", "execution not found", error=message)
            return self.run_store.get(record.id) or current
        closure = execution.closure
        phase = int(closure.phase)
        status = PHASES.get(phase, "RUNNING")
        changes: dict[str, Any] = {}
        if status == "SUCCEEDED":
            data = self.outputs_pb(dataclasses.replace(current, status=status))
            # this backend is flytekit's admin client: outputs are flytekit's literal maps
            flytekit = load_sdk("flytekit")
            changes["outputs"] = flytekit.preview_outputs(data) if data is not None else {}
        elif status == "FAILED":
            changes["error"] = error_text(closure)
        elif status == "ABORTED":
            abort = getattr(closure, "abort_metadata", None)
            cause = getattr(abort, "cause", "") or ""
            changes["error"] = f"aborted: {cause}" if cause else None
        name = PHASE_NAMES[phase] if 0 <= phase < len(PHASE_NAMES) else str(phase)
        if status != current.status or changes:
            self.run_store.update(record.id, status, f"admin phase {name}", **changes)
        self._record_nodes(current, execution_id)
        return self.run_store.get(record.id) or current

    def _record_nodes(self, record: RunRecord, execution_id: Any) -> None:
        """A workflow run's nodes into its folder (the run page's node list); best effort."""
        if record.kind != "workflow" or not record.run_dir:
            return
        entities = dict(record.extra.get("node_entities") or {})
        try:
            with self._admin(f"list the nodes of run {record.id}"):
                self._nodes.record(
                    self.remote.client, record.id, execution_id, Path(record.run_dir), entities
                )
        except LaunchError as exc:  # the status is what matters; the nodes come next time
            logger.warning("flyte_jupyter: %s", exc)

    def outputs_pb(self, record: RunRecord) -> bytes | None:
        """The execution's outputs (``GetExecutionData``) as a serialized ``LiteralMap``."""
        if record.status != "SUCCEEDED":
            return None
        cached = self._outputs.get(record.id)
        if cached is not None:
            return cached
        execution_id = self._execution_id(record)
        with self._admin(f"get the outputs of run {record.id}"):
            data = self.remote.client.get_execution_data(execution_id)
            literal_map = data.full_outputs
            if not literal_map.literals and data.outputs.bytes > 0:
                literal_map = self._download_literal_map(data.outputs.url)
        out: bytes = literal_map.to_flyte_idl().SerializeToString()
        self._outputs[record.id] = out
        return out

    def _download_literal_map(self, url: str) -> Any:
        """Outputs too large to come inline: admin gives a (signed) URL to the blob."""
        from flyteidl.core import literals_pb2
        from flytekit.models.literals import LiteralMap

        with tempfile.TemporaryDirectory(prefix="fj-outputs-") as tmp:
            path = Path(tmp) / "outputs.pb"
            self.remote.file_access.get_data(url, str(path))
            return LiteralMap.from_flyte_idl(literals_pb2.LiteralMap.FromString(path.read_bytes()))

    def logs(self, record: RunRecord) -> str:
        """Where the run's logs are (the Flyte console), with its status and error."""
        return console_logs(record, self.endpoint)

    def cancel(self, record: RunRecord) -> RunRecord:
        """``TerminateExecution``; the run is recorded ABORTED."""

        def abort(current: RunRecord) -> None:
            execution_id = self._execution_id(current)
            with self._admin(f"cancel run {record.id}"):
                self.remote.client.terminate_execution(execution_id, CANCEL_CAUSE)

        return cancel_on_cluster(record, self._fresh, abort, self.run_store, CANCEL_CAUSE)

    def _fresh(self, record: RunRecord) -> RunRecord:
        """The run's record, asked of admin now."""
        self._polled.pop(record.id, None)
        return self.refresh(record)

    def _execution_id(self, record: RunRecord) -> Any:
        from flytekit.models.core.identifier import WorkflowExecutionIdentifier

        check_endpoint(record, self.endpoint, "Flyte admin")
        project, domain, name = (record.remote_id or "").split("/", 2)
        return WorkflowExecutionIdentifier(project, domain, name)


def _control_plane_entity(item: SerializedFile) -> tuple[Any, str, int]:
    """Flytekit's model of a serialized file, its Flyte name and its resource type."""
    from flytekit.models.admin.workflow import WorkflowSpec
    from flytekit.models.core.identifier import ResourceType
    from flytekit.models.launch_plan import LaunchPlan
    from flytekit.models.task import TaskSpec

    message = item.read()
    if item.kind == "task":
        task = TaskSpec.from_flyte_idl(message)
        return task, task.template.id.name, ResourceType.TASK
    if item.kind == "workflow":
        workflow = WorkflowSpec.from_flyte_idl(message)
        return workflow, workflow.template.id.name, ResourceType.WORKFLOW
    plan = LaunchPlan.from_flyte_idl(message)
    return plan, plan.id.name, ResourceType.LAUNCH_PLAN
