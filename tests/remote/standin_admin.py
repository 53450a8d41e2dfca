"""A STAND-IN for Flyte admin, for tests: not Flyte, and no cluster runs anything here.

``StandinFlyte`` is a real gRPC server on 127.0.0.1 (insecure) implementing the flyteidl
``AdminService`` and ``DataProxyService`` calls that flytekit's ``FlyteRemote`` makes for the
remote backend, plus a tiny HTTP server that plays the blob store behind the data proxy's signed
URLs. flytekit's real client talks to it over the real gRPC wire path.

What it does, and only that:

- records every request (``calls``), in order, as the protobuf message it received;
- keeps registered tasks, workflows and launch plans in memory, checking what flyteadmin
  checks at the surface: a complete identifier of the right resource type, a registered
  project and domain, referenced entities that exist; the same identifier again is
  ALREADY_EXISTS when the spec is identical and INVALID_ARGUMENT when it differs;
- creates executions whose phase follows a :class:`Plan` the test gives (one phase per
  ``GetExecution``; the last one stays), with the outputs or error the test gives; it never
  runs code, so the outputs are whatever the test says;
- ``GetExecutionData`` serves the outputs inline (``full_outputs``) or, for
  ``Plan(outputs_inline=False)``, as a URL blob on the HTTP server, as admin does for large ones;
- ``TerminateExecution`` ends a running execution ABORTED;
- ``ListNodeExecutions`` lists the nodes of a workflow execution's registered template, their
  phases following the execution's (running: the first node runs; succeeded: all did; failed:
  the last one failed with the plan's error), and ``GetNodeExecutionData`` serves the node
  inputs and outputs the plan gives (``Plan.nodes``);
- ``CreateUploadLocation`` returns a URL on the HTTP server that accepts one PUT whose
  ``Content-MD5`` matches, and a ``s3://standin-bucket/...`` native URL for the stored bytes;
- ``fail(method, code, message)`` makes a method answer with that gRPC error.

Everything else is UNIMPLEMENTED, so a test fails loudly if the launcher starts calling more.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any

import grpc
from flyteidl.admin import (
    common_pb2,
    execution_pb2,
    launch_plan_pb2,
    node_execution_pb2,
    task_pb2,
    workflow_pb2,
)
from flyteidl.core import execution_pb2 as core_execution_pb2
from flyteidl.core import identifier_pb2, literals_pb2
from flyteidl.service import admin_pb2_grpc, dataproxy_pb2, dataproxy_pb2_grpc
from google.protobuf import timestamp_pb2

Phase = core_execution_pb2.WorkflowExecution.Phase
RUNNING = Phase.Value("RUNNING")
SUCCEEDED = Phase.Value("SUCCEEDED")
FAILED = Phase.Value("FAILED")
ABORTED = Phase.Value("ABORTED")
QUEUED = Phase.Value("QUEUED")
TERMINAL = {SUCCEEDED, FAILED, ABORTED, Phase.Value("TIMED_OUT")}
NATIVE_BUCKET = "s3://standin-bucket"


@dataclass
class Plan:
    """How one execution goes: phases reported by successive GetExecution calls."""

    phases: list[int] = field(default_factory=lambda: [RUNNING, SUCCEEDED])
    outputs: literals_pb2.LiteralMap = field(default_factory=literals_pb2.LiteralMap)
    error: str | None = None
    outputs_inline: bool = True
    # node id -> (inputs, outputs) that GetNodeExecutionData serves for a workflow's nodes
    nodes: dict[str, tuple[literals_pb2.LiteralMap, literals_pb2.LiteralMap]] = field(
        default_factory=dict
    )


@dataclass
class Execution:
    request: execution_pb2.ExecutionCreateRequest
    plan: Plan
    phase: int = QUEUED
    step: int = 0
    abort_cause: str | None = None
    created: float = field(default_factory=time.time)


def int_outputs(**values: int) -> literals_pb2.LiteralMap:
    """A LiteralMap of integers, e.g. ``int_outputs(o0=49)``."""
    out = literals_pb2.LiteralMap()
    for name, value in values.items():
        out.literals[name].scalar.primitive.integer = value
    return out


def _key(ident: Any) -> tuple[str, ...]:
    return (ident.project, ident.domain, ident.name, ident.version)


class _Abort(Exception):  # noqa: N818 - a control-flow signal, not an error of the stand-in
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class StandinFlyte:
    """The stand-in: state, recorded calls, and its two servers (gRPC and HTTP)."""

    def __init__(
        self,
        *,
        projects: tuple[str, ...] = ("flytesnacks",),
        domains: tuple[str, ...] = ("development", "staging", "production"),
    ) -> None:
        self.projects = projects
        self.domains = domains
        self.lock = threading.RLock()
        self.calls: list[tuple[str, Any]] = []
        self.tasks: dict[tuple[str, ...], task_pb2.TaskSpec] = {}
        self.workflows: dict[tuple[str, ...], workflow_pb2.WorkflowSpec] = {}
        self.launch_plans: dict[tuple[str, ...], launch_plan_pb2.LaunchPlanSpec] = {}
        self.executions: dict[tuple[str, str, str], Execution] = {}
        self.blobs: dict[str, bytes] = {}  # native URL -> bytes PUT through a signed URL
        self.plans: list[Plan] = []
        self.faults: dict[str, tuple[grpc.StatusCode, str]] = {}
        self._grpc: grpc.Server | None = None
        self._http: http.server.ThreadingHTTPServer | None = None
        self.port = 0
        self.http_url = ""

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> StandinFlyte:
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        admin_pb2_grpc.add_AdminServiceServicer_to_server(_Admin(self), self._grpc)
        dataproxy_pb2_grpc.add_DataProxyServiceServicer_to_server(_DataProxy(self), self._grpc)
        self.port = self._grpc.add_insecure_port("127.0.0.1:0")
        self._grpc.start()
        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _blob_handler(self))
        self._http.daemon_threads = True
        self.http_url = f"http://127.0.0.1:{self._http.server_address[1]}"
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._grpc is not None:
            self._grpc.stop(grace=None).wait()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()

    def reset(self) -> None:
        with self.lock:
            self.calls.clear()
            self.tasks.clear()
            self.workflows.clear()
            self.launch_plans.clear()
            self.executions.clear()
            self.blobs.clear()
            self.plans.clear()
            self.faults.clear()

    @property
    def endpoint(self) -> str:
        """The gRPC target, as flytekit's ``admin.endpoint`` takes it."""
        return f"dns:///127.0.0.1:{self.port}"

    @property
    def console(self) -> str:
        """A console endpoint for generated URLs (nothing serves it)."""
        return f"http://127.0.0.1:{self.port}"

    # -- test controls ---------------------------------------------------------------------------

    def plan(self, plan: Plan) -> None:
        """The next execution created follows ``plan`` (default: RUNNING, then SUCCEEDED)."""
        with self.lock:
            self.plans.append(plan)

    def fail(self, method: str, code: grpc.StatusCode, message: str) -> None:
        """Make ``method`` (e.g. ``CreateExecution``) answer ``code`` with ``message``."""
        with self.lock:
            self.faults[method] = (code, message)

    def requests(self, method: str) -> list[Any]:
        """The requests received by ``method``, in order (flytekit retries included)."""
        with self.lock:
            return [request for name, request in self.calls if name == method]

    def methods(self) -> list[str]:
        """Names of the methods called, in order, consecutive repeats collapsed."""
        with self.lock:
            out: list[str] = []
            for name, _ in self.calls:
                if not out or out[-1] != name:
                    out.append(name)
            return out

    # -- handling --------------------------------------------------------------------------------

    def handle(self, method: str, request: Any, context: grpc.ServicerContext, fn: Any) -> Any:
        """Record, apply faults, run ``fn``; errors become gRPC statuses (never UNKNOWN)."""
        copy = type(request)()
        copy.CopyFrom(request)
        with self.lock:
            self.calls.append((method, copy))
            fault = self.faults.get(method)
            if fault is not None:
                context.abort(*fault)
            try:
                return fn(request)
            except _Abort as exc:
                context.abort(exc.code, exc.message)
            except Exception as exc:  # noqa: BLE001 - a stand-in bug must not look like UNKNOWN
                context.abort(grpc.StatusCode.INTERNAL, f"stand-in error: {exc!r}")

    def check_id(self, ident: Any, resource: int, what: str) -> None:
        missing = [f for f in ("project", "domain", "name", "version") if not getattr(ident, f)]
        if missing:
            raise _Abort(
                grpc.StatusCode.INVALID_ARGUMENT, f"missing {', '.join(missing)} in {what} id"
            )
        if ident.resource_type != resource:
            got = identifier_pb2.ResourceType.Name(ident.resource_type)
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"{what} id has resource type {got}")
        self.check_project(ident.project, ident.domain)

    def check_project(self, project: str, domain: str) -> None:
        if project not in self.projects:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"project [{project}] is not registered")
        if domain not in self.domains:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"domain [{domain}] is not configured")

    def put(self, table: dict[tuple[str, ...], Any], ident: Any, spec: Any, what: str) -> None:
        key = _key(ident)
        if key in table:
            if table[key] == spec:
                raise _Abort(grpc.StatusCode.ALREADY_EXISTS, f"{what} {key} already exists")
            raise _Abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"{what} with different structure already exists with id {':'.join(key)}",
            )
        table[key] = spec

    def advance(self, execution: Execution) -> None:
        if execution.phase in TERMINAL:
            return
        phases = execution.plan.phases
        execution.phase = phases[min(execution.step, len(phases) - 1)]
        execution.step += 1

    def message(self, key: tuple[str, str, str]) -> execution_pb2.Execution:
        execution = self.executions[key]
        closure = execution_pb2.ExecutionClosure(phase=execution.phase)
        closure.created_at.CopyFrom(_timestamp(execution.created))
        closure.started_at.CopyFrom(_timestamp(execution.created))
        if execution.phase == FAILED:
            closure.error.code = "USER:RuntimeError"
            closure.error.message = execution.plan.error or "failed"
            closure.error.kind = core_execution_pb2.ExecutionError.USER
        if execution.phase == ABORTED:
            closure.abort_metadata.cause = execution.abort_cause or ""
            closure.abort_metadata.principal = "standin"
        ident = identifier_pb2.WorkflowExecutionIdentifier(
            project=key[0], domain=key[1], name=key[2]
        )
        return execution_pb2.Execution(id=ident, spec=execution.request.spec, closure=closure)


NodePhase = core_execution_pb2.NodeExecution.Phase
NODE_RUNNING = NodePhase.Value("RUNNING")
NODE_FAILED = NodePhase.Value("FAILED")


def _node_phases(phase: int, count: int) -> list[int]:
    """What the nodes of an execution in ``phase`` report (only nodes that started)."""
    if count == 0 or phase == QUEUED:
        return []
    if phase == SUCCEEDED:
        return [NodePhase.Value("SUCCEEDED")] * count
    if phase == FAILED:
        return [NodePhase.Value("SUCCEEDED")] * (count - 1) + [NODE_FAILED]
    if phase == ABORTED:
        return [NodePhase.Value("ABORTED")]
    return [NODE_RUNNING]


def _timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromNanoseconds(int(seconds * 1e9))
    return out


class _Admin(admin_pb2_grpc.AdminServiceServicer):
    """The AdminService methods the remote backend uses."""

    def __init__(self, state: StandinFlyte) -> None:
        self.s = state

    def CreateTask(self, request, context):  # noqa: N802 - gRPC method names
        def run(r):
            self.s.check_id(r.id, identifier_pb2.TASK, "task")
            self.s.put(self.s.tasks, r.id, r.spec, "task")
            return task_pb2.TaskCreateResponse()

        return self.s.handle("CreateTask", request, context, run)

    def CreateWorkflow(self, request, context):  # noqa: N802
        def run(r):
            self.s.check_id(r.id, identifier_pb2.WORKFLOW, "workflow")
            for node in r.spec.template.nodes:
                if node.HasField("task_node"):
                    ref = node.task_node.reference_id
                    if _key(ref) not in self.s.tasks:
                        raise _Abort(
                            grpc.StatusCode.INVALID_ARGUMENT,
                            f"node {node.id} references task {':'.join(_key(ref))}, "
                            "which is not registered",
                        )
            self.s.put(self.s.workflows, r.id, r.spec, "workflow")
            return workflow_pb2.WorkflowCreateResponse()

        return self.s.handle("CreateWorkflow", request, context, run)

    def CreateLaunchPlan(self, request, context):  # noqa: N802
        def run(r):
            self.s.check_id(r.id, identifier_pb2.LAUNCH_PLAN, "launch plan")
            if _key(r.spec.workflow_id) not in self.s.workflows:
                raise _Abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"workflow {':'.join(_key(r.spec.workflow_id))} is not registered",
                )
            self.s.put(self.s.launch_plans, r.id, r.spec, "launch plan")
            return launch_plan_pb2.LaunchPlanCreateResponse()

        return self.s.handle("CreateLaunchPlan", request, context, run)

    def CreateExecution(self, request, context):  # noqa: N802
        def run(r):
            self.s.check_project(r.project, r.domain)
            target = r.spec.launch_plan
            table = self.s.tasks if target.resource_type == identifier_pb2.TASK else None
            if target.resource_type == identifier_pb2.LAUNCH_PLAN:
                table = self.s.launch_plans
            if table is None or _key(target) not in table:
                raise _Abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"{identifier_pb2.ResourceType.Name(target.resource_type)} "
                    f"{':'.join(_key(target))} is not registered",
                )
            key = (r.project, r.domain, r.name)
            if not r.name or key in self.s.executions:
                raise _Abort(grpc.StatusCode.ALREADY_EXISTS, f"execution {key} already exists")
            plan = self.s.plans.pop(0) if self.s.plans else Plan()
            self.s.executions[key] = Execution(request=r, plan=plan)
            ident = identifier_pb2.WorkflowExecutionIdentifier(
                project=r.project, domain=r.domain, name=r.name
            )
            return execution_pb2.ExecutionCreateResponse(id=ident)

        return self.s.handle("CreateExecution", request, context, run)

    def _execution(self, ident: Any) -> tuple[tuple[str, str, str], Execution]:
        key = (ident.project, ident.domain, ident.name)
        if key not in self.s.executions:
            raise _Abort(grpc.StatusCode.NOT_FOUND, f"execution {key} not found")
        return key, self.s.executions[key]

    def GetExecution(self, request, context):  # noqa: N802
        def run(r):
            key, execution = self._execution(r.id)
            self.s.advance(execution)
            return self.s.message(key)

        return self.s.handle("GetExecution", request, context, run)

    def GetExecutionData(self, request, context):  # noqa: N802
        def run(r):
            key, execution = self._execution(r.id)
            out = execution_pb2.WorkflowExecutionGetDataResponse()
            out.full_inputs.CopyFrom(execution.request.inputs)
            if execution.phase == SUCCEEDED:
                if execution.plan.outputs_inline:
                    out.full_outputs.CopyFrom(execution.plan.outputs)
                else:
                    data = execution.plan.outputs.SerializeToString()
                    url = f"{self.s.http_url}/outputs/{'/'.join(key)}/outputs.pb"
                    self.s.blobs[url] = data
                    out.outputs.CopyFrom(common_pb2.UrlBlob(url=url, bytes=len(data)))
            return out

        return self.s.handle("GetExecutionData", request, context, run)

    def _template_nodes(self, execution: Execution) -> list[str]:
        target = execution.request.spec.launch_plan
        plan = self.s.launch_plans.get(_key(target))
        if target.resource_type != identifier_pb2.LAUNCH_PLAN or plan is None:
            return []
        workflow = self.s.workflows[_key(plan.workflow_id)]
        return [n.id for n in workflow.template.nodes if n.id not in ("start-node", "end-node")]

    def ListNodeExecutions(self, request, context):  # noqa: N802
        def run(r):
            _, execution = self._execution(r.workflow_execution_id)
            nodes = self._template_nodes(execution)
            phases = _node_phases(execution.phase, len(nodes))
            out = node_execution_pb2.NodeExecutionList()
            for index, (node_id, phase) in enumerate(zip(nodes, phases, strict=False)):
                item = out.node_executions.add()
                item.id.node_id = node_id
                item.id.execution_id.CopyFrom(r.workflow_execution_id)
                item.metadata.spec_node_id = node_id
                item.closure.phase = phase
                item.closure.started_at.CopyFrom(_timestamp(execution.created + index))
                if phase != NODE_RUNNING:
                    item.closure.duration.FromSeconds(1)
                if phase == NODE_FAILED:
                    item.closure.error.code = "USER:RuntimeError"
                    item.closure.error.message = execution.plan.error or "failed"
            return out

        return self.s.handle("ListNodeExecutions", request, context, run)

    def GetNodeExecutionData(self, request, context):  # noqa: N802
        def run(r):
            _, execution = self._execution(r.id.execution_id)
            out = node_execution_pb2.NodeExecutionGetDataResponse()
            inputs, outputs = execution.plan.nodes.get(r.id.node_id, (None, None))
            if inputs is not None:
                out.full_inputs.CopyFrom(inputs)
            if outputs is not None:
                out.full_outputs.CopyFrom(outputs)
            return out

        return self.s.handle("GetNodeExecutionData", request, context, run)

    def TerminateExecution(self, request, context):  # noqa: N802
        def run(r):
            _, execution = self._execution(r.id)
            if execution.phase in TERMINAL:
                raise _Abort(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    "Cannot abort an already terminated workflow execution",
                )
            execution.phase = ABORTED
            execution.abort_cause = r.cause
            return execution_pb2.ExecutionTerminateResponse()

        return self.s.handle("TerminateExecution", request, context, run)


class _DataProxy(dataproxy_pb2_grpc.DataProxyServiceServicer):
    def __init__(self, state: StandinFlyte) -> None:
        self.s = state

    def CreateUploadLocation(self, request, context):  # noqa: N802
        def run(r):
            self.s.check_project(r.project, r.domain)
            if len(r.content_md5) != 16:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "content_md5 must be an MD5 digest")
            if not r.filename:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "filename is required")
            root = r.filename_root or base64.b32encode(r.content_md5).decode().rstrip("=").lower()
            key = f"{r.project}/{r.domain}/{root}/{r.filename}"
            out = dataproxy_pb2.CreateUploadLocationResponse(
                signed_url=f"{self.s.http_url}/upload/{key}?signature=standin",
                native_url=f"{NATIVE_BUCKET}/{key}",
            )
            out.expires_at.CopyFrom(_timestamp(time.time() + 3600))
            return out

        return self.s.handle("CreateUploadLocation", request, context, run)


def _blob_handler(state: StandinFlyte) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        """PUT to a signed upload URL (MD5-checked, as S3 does); GET of outputs blobs."""

        def do_PUT(self) -> None:
            path = self.path.split("?", 1)[0]
            if not path.startswith("/upload/"):
                self._send(404, b"no such upload location")
                return
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            expected = self.headers.get("Content-MD5", "")
            actual = base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 - S3 uses MD5
            if expected != actual:
                self._send(400, b"BadDigest: Content-MD5 does not match the body")
                return
            with state.lock:
                state.blobs[f"{NATIVE_BUCKET}/{path.removeprefix('/upload/')}"] = data
            self._send(200, b"")

        def do_GET(self) -> None:
            with state.lock:
                data = state.blobs.get(f"{state.http_url}{self.path}")
            if data is None:
                self._send(404, b"not found")
            else:
                self._send(200, data)

        def _send(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
            pass

    return Handler
