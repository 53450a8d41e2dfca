"""The remote backend for flyte v2 tasks: a Flyte v2 control plane, over Connect RPC.

A launch sends what ``flyte.run`` sends, with this project's bundle instead of a pickle: the
bundle is already in a store the cluster reads (``s3://...``, or uploaded through the data
proxy with ``store = "flyte"``: ``CreateUploadLocation`` and a PUT), the TaskSpec was serialized
offline from the bundle, the inputs go up with ``UploadInputs`` and the run is made with
``CreateRun`` (the TaskSpec inline, named after the run id). The run's URL is its page in the
console (``<endpoint>/v2/domain/<d>/project/<p>/runs/<name>``).

Following a run: in the kernel that launched it, a ``WatchActionDetails`` stream per active run
records each phase as it changes; a stream that breaks (the control plane unreachable) notes so
in the run's record (``extra["connection"]``, which the cell's display shows) and is opened
again, with backoff, until the run ends. Anywhere else (the Jupyter server, a later kernel)
:meth:`RemoteV2Launcher.refresh` asks ``GetRunDetails``, at most every :attr:`poll_interval`
seconds per run. Outputs come from ``GetActionData``; ``cancel`` is ``AbortRun``; deploying is
``TaskService/DeployTask``.

flyte owns the protocol: its ``ClientSet`` (connection, TLS, auth from the flyte config file)
makes every call, on one event loop of this launcher's own, in a daemon thread, so that flyte's
global state (``flyte.init``) of the notebook is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
import time
from typing import TYPE_CHECKING, Any

from flyte_jupyter.errors import FlyteJupyterError, LaunchError, StoreError
from flyte_jupyter.launch.cluster import (
    cancel_on_cluster,
    check_endpoint,
    check_readable,
    console_logs,
    version_hint,
)
from flyte_jupyter.launch.controlplane import (
    PHASE_NAMES,
    PHASES,
    RPC_TIMEOUT,
    EventLoopThread,
    code_of,
    explain,
    v2_platform,
)
from flyte_jupyter.launch.runstore import RunStore
from flyte_jupyter.redaction import redacting_logger
from flyte_jupyter.sdk import load_sdk

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterator
    from pathlib import Path

    from flyte_jupyter.launch.model import Deployed, DeploySpec, LaunchSpec, RunRecord
    from flyte_jupyter.settings import Settings

__all__ = ["RemoteV2Launcher", "v2_platform"]

logger = redacting_logger(__name__)

CANCEL_REASON = "cancelled from flyte_jupyter"
ACTION = "a0"
"""The name of a run's root action (flyte's ``a0``)."""

_DEPLOY_HINT = version_hint("task", "deploy")


class RemoteV2Launcher:
    """Start, follow, cancel and deploy flyte v2 tasks on a Flyte v2 control plane.

    Parameters
    ----------
    home
        flyte_jupyter's state folder (the run store is ``home/runs.sqlite``).
    platform
        flyte's ``PlatformConfig`` (see :func:`v2_platform`).
    project, domain, org
        Where runs and tasks go.
    """

    name = "remote"
    poll_interval = 1.0
    """Ask for an unwatched run's status at most this often (seconds); in between, the store."""
    retry_backoff = (0.25, 5.0)
    """First and longest wait (seconds) before a broken watch stream is opened again."""

    def __init__(self, home: Path, *, platform: Any, project: str, domain: str, org: str) -> None:
        self.home = home
        self.run_store = RunStore(home / "runs.sqlite")
        self.platform = platform
        self.endpoint: str = platform.endpoint
        self.project = project
        self.domain = domain
        self.org = org
        self._loop: EventLoopThread | None = None
        self._client: Any = None
        self._lock = threading.Lock()
        self._polled: dict[str, float] = {}
        self._outputs: dict[str, bytes] = {}
        self._watches: dict[str, Any] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> RemoteV2Launcher:
        """The launcher for these settings (no network call yet)."""
        return cls(
            settings.home,
            platform=v2_platform(settings),
            project=settings.project,
            domain=settings.domain,
            org=settings.org or "",
        )

    # -- the client ------------------------------------------------------------------------------

    def _run(
        self, make: Callable[[Any], Awaitable[Any]], timeout: float | None = RPC_TIMEOUT
    ) -> Any:
        """``make(client)`` awaited on the launcher's loop (the client made on first use)."""
        with self._lock:
            if self._loop is None:
                self._loop = EventLoopThread()
        loop = self._loop

        async def call() -> Any:
            return await make(await self._clients())

        return loop.run(call(), timeout)

    async def _clients(self) -> Any:
        if self._client is None:
            from flyte.remote._client.controlplane import ClientSet

            p = self.platform
            self._client = await ClientSet.for_endpoint(
                p.endpoint,
                insecure=p.insecure,
                insecure_skip_verify=p.insecure_skip_verify,
                ca_cert_file_path=p.ca_cert_file_path,
                auth_type=p.auth_mode,
                command=p.command,
                proxy_command=p.proxy_command,
                client_id=p.client_id,
                client_credentials_secret=p.client_credentials_secret,
                scopes=p.scopes,
                rpc_retries=p.rpc_retries,
                http_proxy_url=p.http_proxy_url,
                disable_keyring=p.disable_keyring,
            )
        return self._client

    @contextlib.contextmanager
    def _calling(
        self, action: str, error: type[FlyteJupyterError] = LaunchError, *, hint: str = ""
    ) -> Iterator[None]:
        """Turn a failed call into ``error`` with a message; ``hint`` is added to a refusal."""
        try:
            yield
        except FlyteJupyterError:
            raise
        except TimeoutError as exc:
            msg = f"The Flyte control plane at {self.endpoint} did not answer within "
            msg += f"{RPC_TIMEOUT:.0f} s to {action}."
            raise error(msg) from exc
        except Exception as exc:
            message = explain(exc, action, self.endpoint)
            if hint and code_of(exc) in ("ALREADY_EXISTS", "INVALID_ARGUMENT"):
                message = f"{message} {hint}"
            raise error(message) from exc

    def _console(self) -> Any:
        from flyte.remote._client.controlplane import Console

        return Console(self.endpoint, self.platform.insecure)

    def _run_id(self, record: RunRecord) -> Any:
        from flyteidl2.common import identifier_pb2

        check_endpoint(record, self.endpoint, "the Flyte control plane")
        org, project, domain, name = (record.remote_id or "///").split("/", 3)
        return identifier_pb2.RunIdentifier(org=org, project=project, domain=domain, name=name)

    def _action_id(self, record: RunRecord) -> Any:
        from flyteidl2.common import identifier_pb2

        return identifier_pb2.ActionIdentifier(run=self._run_id(record), name=ACTION)

    # -- bundle ----------------------------------------------------------------------------------

    def upload_file(self, path: Path) -> str:
        """Upload a bundle archive through the data proxy; return its URI for the cluster.

        ``CreateUploadLocation`` (keyed by the archive's MD5) gives a signed URL; the archive is
        PUT there with flyte's own uploader.

        Raises
        ------
        StoreError
            The proxy refused the upload location, or the PUT failed.
        """
        from flyte.remote._data import _upload_with_retry, get_extra_headers_for_protocol, hash_file
        from flyteidl2.dataproxy import dataproxy_service_pb2
        from google.protobuf import duration_pb2

        md5, _, size = hash_file(path)  # the proxy keys uploads by MD5
        request = dataproxy_service_pb2.CreateUploadLocationRequest(
            project=self.project,
            domain=self.domain,
            org=self.org,
            filename=path.name,
            content_md5=md5,
            expires_in=duration_pb2.Duration(seconds=3600),
            add_content_md5_metadata=True,
        )

        async def upload(client: Any) -> str:
            import base64

            location = await client.dataproxy_service.create_upload_location(request)
            headers = get_extra_headers_for_protocol(location.native_url)
            headers.update(location.headers)
            headers["Content-Length"] = str(size)
            headers["Content-MD5"] = base64.b64encode(md5).decode()
            await _upload_with_retry(
                fp=path,
                signed_url=location.signed_url,
                extra_headers=headers,
                verify=not self.platform.insecure_skip_verify,
                max_retries=3,
                min_backoff_sec=0.5,
                max_backoff_sec=10.0,
            )
            return str(location.native_url)

        with self._calling("upload the bundle through Flyte's data proxy", StoreError):
            uri: str = self._run(upload, timeout=None)
        return uri

    # -- launcher --------------------------------------------------------------------------------

    def _task_spec(self, spec: LaunchSpec | DeploySpec, name: str | None = None) -> list[Any]:
        """The serialized TaskSpecs, their ids completed as ``flyte.run`` completes them."""
        specs = []
        for item in spec.serialized.files:
            if name is not None and item.name != name:
                continue
            task_spec = item.read()
            ident = task_spec.task_template.id
            ident.project = ident.project or spec.settings.project
            ident.domain = ident.domain or spec.settings.domain
            ident.org = ident.org or self.org
            ident.version = ident.version or spec.version
            specs.append(task_spec)
        return specs

    def submit(self, spec: LaunchSpec) -> RunRecord:
        """Upload the inputs, create the run (its TaskSpec inline), record it (QUEUED)."""
        from flyteidl2.common import identifier_pb2
        from flyteidl2.dataproxy import dataproxy_service_pb2
        from flyteidl2.task import common_pb2, run_pb2
        from flyteidl2.workflow import run_service_pb2

        check_readable(spec.bundle, spec.settings)
        found = self._task_spec(spec, spec.flyte_name)
        if not found:
            msg = f"No task {spec.flyte_name!r} among the serialized entities to run."
            raise LaunchError(msg)
        task_spec = found[0]
        project, domain = spec.settings.project, spec.settings.domain
        run_id = identifier_pb2.RunIdentifier(
            org=self.org, project=project, domain=domain, name=spec.run_id
        )
        inputs = common_pb2.Inputs.FromString(spec.inputs_pb)

        async def create(client: Any) -> Any:
            upload = dataproxy_service_pb2.UploadInputsRequest(
                run_id=run_id, task_spec=task_spec, inputs=inputs
            )
            uploaded = await client.dataproxy_service.upload_inputs(upload)
            request = run_service_pb2.CreateRunRequest(
                run_id=run_id,
                task_spec=task_spec,
                offloaded_input_data=uploaded.offloaded_input_data,
                run_spec=run_pb2.RunSpec(),
            )
            return await client.run_service.create_run(request)

        with self._calling(f"run {spec.flyte_name} version {spec.version}"):
            self._run(create)
        now = time.time()
        record = spec.queued_record(
            self.name,
            now,
            extra={"endpoint": self.endpoint, "org": self.org},
            url=self._console().run_url(project, domain, spec.run_id),
            remote_id=f"{self.org}/{project}/{domain}/{spec.run_id}",
        )
        self.run_store.add(record, f"run created on {self.endpoint}")
        self._watch(record)
        return record

    # -- following -------------------------------------------------------------------------------

    def _watch(self, record: RunRecord) -> None:
        """Follow the run with a ``WatchActionDetails`` stream until it ends (this process)."""
        with self._lock:
            if self._loop is None:
                self._loop = EventLoopThread()
            if record.id in self._watches and not self._watches[record.id].done():
                return
            self._watches[record.id] = self._loop.spawn(self._follow(record))

    async def _follow(self, record: RunRecord) -> None:
        from flyteidl2.workflow import run_service_pb2

        request = run_service_pb2.WatchActionDetailsRequest(action_id=self._action_id(record))
        wait, longest = self.retry_backoff
        noted = False  # this watch wrote a connection note that is still there
        while True:
            try:
                client = await self._clients()
                async for response in client.run_service.watch_action_details(request):
                    if noted:  # heard from again
                        self.run_store.add_extra(record.id, connection=None)
                        noted = False
                    wait = self.retry_backoff[0]
                    if await asyncio.to_thread(self._apply, record, response.details):
                        return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - noted on the run; the watch goes on
                note = explain(exc, f"follow run {record.id}", self.endpoint)
                stamp = time.strftime("%H:%M:%S")
                self.run_store.add_extra(record.id, connection=f"{stamp} {note} Retrying.")
                noted = True
                logger.warning("flyte_jupyter: %s", note)
            current = self.run_store.get(record.id)
            if current is None or current.done:
                return
            await asyncio.sleep(wait)
            wait = min(wait * 2, longest)

    def close(self) -> None:
        """Stop following runs in this process (their records stay as they are)."""
        with self._lock:
            watches, self._watches = list(self._watches.values()), {}
        for watch in watches:
            watch.cancel()

    def _watching(self, record: RunRecord) -> bool:
        watch = self._watches.get(record.id)
        return watch is not None and not watch.done()

    def _apply(self, record: RunRecord, details: Any) -> bool:
        """Record the action's phase (outputs or error when it ended); True once it ended."""
        phase = int(details.status.phase)
        status = PHASES.get(phase)
        if status is None:
            return False
        changes: dict[str, Any] = {}
        if status == "SUCCEEDED":
            done = dataclasses.replace(record, status=status)
            data = self._outputs_of(done)
            changes["outputs"] = load_sdk("flyte").preview_outputs(data) if data else {}
        elif status == "FAILED":
            info = details.error_info
            kind = PHASE_NAMES.get(phase, str(phase))
            changes["error"] = info.message or f"the run ended {kind} (no error message)"
        elif status == "ABORTED":
            reason = details.abort_info.reason
            changes["error"] = f"aborted: {reason}" if reason else "aborted"
        self.run_store.update(
            record.id, status, f"control plane phase {PHASE_NAMES.get(phase, phase)}", **changes
        )
        return status in ("SUCCEEDED", "FAILED", "ABORTED")

    def refresh(self, record: RunRecord) -> RunRecord:
        """The run's current record: the watch's, or ``GetRunDetails`` every few seconds."""
        current = self.run_store.get(record.id) or record
        if current.done or self._watching(current):
            return current
        now = time.monotonic()
        if now - self._polled.get(record.id, -float("inf")) < self.poll_interval:
            return current
        self._polled[record.id] = now
        from flyteidl2.workflow import run_service_pb2

        request = run_service_pb2.GetRunDetailsRequest(run_id=self._run_id(current))
        try:
            with self._calling(f"get the status of run {record.id}"):
                answer = self._run(lambda client: client.run_service.get_run_details(request))
        except LaunchError as exc:
            if code_of(exc.__cause__ or exc) != "NOT_FOUND":
                raise
            message = (
                f"The Flyte control plane {self.endpoint} no longer knows run "
                f"{current.remote_id} (NOT_FOUND): the run's outcome cannot be known. Launch it "
                "again."
            )
            self.run_store.update(record.id, "FAILED", "run not found", error=message)
            return self.run_store.get(record.id) or current
        self._apply(current, answer.details.action)
        return self.run_store.get(record.id) or current

    def _outputs_of(self, record: RunRecord) -> bytes | None:
        from flyteidl2.dataproxy import dataproxy_service_pb2

        cached = self._outputs.get(record.id)
        if cached is not None:
            return cached
        request = dataproxy_service_pb2.GetActionDataRequest(action_id=self._action_id(record))
        with self._calling(f"get the outputs of run {record.id}"):
            answer = self._run(lambda client: client.dataproxy_service.get_action_data(request))
        data: bytes = answer.outputs.SerializeToString()
        self._outputs[record.id] = data
        return data

    def outputs_pb(self, record: RunRecord) -> bytes | None:
        """The run's outputs (``GetActionData``) as a serialized flyteidl2 ``Outputs``."""
        if record.status != "SUCCEEDED":
            return None
        return self._outputs_of(record)

    def logs(self, record: RunRecord) -> str:
        """Where the run's logs are (the Flyte console), with its status and error."""
        return console_logs(record, self.endpoint)

    def cancel(self, record: RunRecord) -> RunRecord:
        """``AbortRun``; the run is recorded ABORTED."""
        from flyteidl2.workflow import run_service_pb2

        def abort(current: RunRecord) -> None:
            request = run_service_pb2.AbortRunRequest(
                run_id=self._run_id(current), reason=CANCEL_REASON
            )
            with self._calling(f"cancel run {record.id}"):
                self._run(lambda client: client.run_service.abort_run(request))

        return cancel_on_cluster(record, self._fresh, abort, self.run_store, CANCEL_REASON)

    def _fresh(self, record: RunRecord) -> RunRecord:
        """The run's record, asked of the control plane now (unless a watch follows it)."""
        self._polled.pop(record.id, None)
        return self.refresh(record)

    # -- deploy ----------------------------------------------------------------------------------

    def deploy(self, spec: DeploySpec) -> list[Deployed]:
        """``DeployTask`` of every serialized task under the version; nothing runs.

        A task already deployed with an identical spec is reported ``already registered``; one
        deployed under the same version with another spec is an error that says what to do.
        """
        from flyte_jupyter.launch.model import Deployed

        check_readable(spec.bundle, spec.settings)
        console = self._console()
        deployed = []
        for task_spec in self._task_spec(spec):
            ident = task_spec.task_template.id
            status = self._deploy_one(task_spec)
            url = console.task_url(ident.project, ident.domain, ident.name)
            deployed.append(Deployed("task", ident.name, ident.version, status, url))
        return deployed

    def _deploy_one(self, task_spec: Any) -> str:
        from flyteidl2.task import task_definition_pb2, task_service_pb2

        ident = task_spec.task_template.id
        task_id = task_definition_pb2.TaskIdentifier(
            org=ident.org,
            project=ident.project,
            domain=ident.domain,
            name=ident.name,
            version=ident.version,
        )
        action = f"deploy task {ident.name} version {ident.version}"
        request = task_service_pb2.DeployTaskRequest(task_id=task_id, spec=task_spec)
        try:
            with self._calling(action):
                self._run(lambda client: client.task_service.deploy_task(request))
        except LaunchError as exc:
            if code_of(exc.__cause__ or exc) != "ALREADY_EXISTS":
                raise
            if self._deployed_spec(task_id) == task_spec:
                return "already registered"
            msg = (
                f"Task {ident.name} version {ident.version} is already deployed on "
                f"{self.endpoint} with a different definition. {_DEPLOY_HINT}"
            )
            raise LaunchError(msg) from exc
        return "registered"

    def _deployed_spec(self, task_id: Any) -> Any:
        from flyteidl2.task import task_service_pb2

        request = task_service_pb2.GetTaskDetailsRequest(task_id=task_id)
        with self._calling(f"read task {task_id.name} version {task_id.version}"):
            answer = self._run(lambda client: client.task_service.get_task_details(request))
        return answer.details.spec
