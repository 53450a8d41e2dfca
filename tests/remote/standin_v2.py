"""A STAND-IN for a Flyte v2 control plane, for tests: not Flyte, and no cluster runs anything here.

``StandinFlyteV2`` is a real HTTP server on 127.0.0.1 speaking the Flyte v2 wire protocol
(Connect RPC over HTTP/1, served by the WSGI applications flyteidl2 ships in its
``*_connect.py`` modules), so that flyte's real client (``ClientSet``: ``flyte.run``,
``flyte.remote.Run``, ``flyte.deploy``) and this project's launcher talk to it over the real
wire path. It runs a run's task with the stock ``a0`` entrypoint as a local subprocess instead
of a pod.

What it does, and only that:

- records every RPC (``calls``), in order, as (method name, the protobuf request received);
- ``ClusterService/SelectCluster`` answers an empty endpoint: flyte's cluster-aware data proxy
  then uses its default client, i.e. this same server;
- ``DataProxyService/CreateUploadLocation`` returns a signed URL on this server's own blob
  endpoint (``PUT /blobs/<project>/<domain>/<md5>/<filename>``, Content-MD5 checked as a signed
  URL would) and a ``file://`` native URL of the file the PUT bytes are stored in, under
  ``work/blobs``;
- ``DataProxyService/UploadInputs`` stores the inputs as ``work/inputs/<sha256>/inputs.pb`` and
  returns its path as ``offloaded_input_data.uri`` (``base_dir`` of the request is ignored);
- ``RunService/CreateRun`` (inline ``task_spec`` or ``task_id`` of a deployed task; ``run_id`` or
  ``project_id``, then a generated name; a name that exists is ALREADY_EXISTS) returns the run
  QUEUED, then a thread starts ``a0`` with the spec's container args, templates filled, plus
  ``--run-base-dir/--project/--domain/--org``, in ``work/runs/<project>/<domain>/<name>``
  (``a0.log`` holds its stdout and stderr). Phases: RUNNING when the thread picks the run up
  (a held run stays RUNNING without a process, see ``hold``), SUCCEEDED when ``outputs.pb`` was
  written, FAILED with ``error.pb``'s message (or the exit status and the log's tail), ABORTED
  by ``AbortRun``;
- ``RunService/WatchActionDetails`` and ``WatchRunDetails`` stream the details now and on every
  change, ending after a terminal phase; ``GetRunDetails``, ``GetActionDetails``;
- ``RunService/AbortRun`` kills the ``a0`` process group and ends the run ABORTED with the
  reason; aborting a run that already ended is a no-op (its phase stays);
- ``DataProxyService/GetActionData`` (and ``RunService/GetActionData``) serve the run's inputs
  and the outputs read from its ``outputs.pb``;
- ``TaskService/DeployTask`` keeps specs by (org, project, domain, name, version): the same id
  again is ALREADY_EXISTS, with a message saying whether the spec is identical or differs
  (flyte's deploy treats ALREADY_EXISTS as "already deployed"); ``GetTaskDetails``;
- ``fail(method, code, message, times)`` makes a method answer that Connect error.

Everything else is UNIMPLEMENTED, so a test fails loudly if the client starts calling more.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import os
import secrets
import shutil
import signal
import socketserver
import subprocess
import sys
import sysconfig
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from connectrpc.code import Code
from connectrpc.errors import ConnectError
from flyteidl2.cluster import payload_pb2 as cluster_pb2
from flyteidl2.cluster.service_connect import ClusterServiceSync, ClusterServiceWSGIApplication
from flyteidl2.common import identifier_pb2, phase_pb2
from flyteidl2.common import run_pb2 as common_run_pb2
from flyteidl2.core import execution_pb2
from flyteidl2.dataproxy import dataproxy_service_pb2 as dataproxy_pb2
from flyteidl2.dataproxy.dataproxy_service_connect import (
    DataProxyServiceSync,
    DataProxyServiceWSGIApplication,
)
from flyteidl2.task import common_pb2 as task_common_pb2
from flyteidl2.task import task_definition_pb2, task_service_pb2
from flyteidl2.task.task_service_connect import TaskServiceSync, TaskServiceWSGIApplication
from flyteidl2.workflow import run_definition_pb2, run_service_pb2
from flyteidl2.workflow.run_service_connect import RunServiceSync, RunServiceWSGIApplication
from google.protobuf import timestamp_pb2

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping

QUEUED = phase_pb2.ACTION_PHASE_QUEUED
RUNNING = phase_pb2.ACTION_PHASE_RUNNING
SUCCEEDED = phase_pb2.ACTION_PHASE_SUCCEEDED
FAILED = phase_pb2.ACTION_PHASE_FAILED
ABORTED = phase_pb2.ACTION_PHASE_ABORTED
TERMINAL = {SUCCEEDED, FAILED, ABORTED, phase_pb2.ACTION_PHASE_TIMED_OUT}
ACTION_NAME = "a0"
DEFAULT_ORG = "standin"
_TAIL = 2000  # characters of a0's log quoted in a failure without error.pb


@dataclass
class StandinRun:
    """One run and its single action ``a0``, as the stand-in keeps it."""

    run_id: identifier_pb2.RunIdentifier
    spec: task_definition_pb2.TaskSpec
    task_id: task_definition_pb2.TaskIdentifier | None
    run_spec: Any  # flyteidl2.task.RunSpec
    inputs: task_common_pb2.Inputs
    inputs_path: Path
    folder: Path
    phase: int = QUEUED
    version: int = 0  # bumped on every change; watches send on change
    error: run_definition_pb2.ErrorInfo | None = None
    abort_reason: str | None = None
    process: subprocess.Popen[bytes] | None = None
    returncode: int | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    ended: float | None = None
    thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        return self.run_id.name

    @property
    def outputs_dir(self) -> Path:
        return self.folder / "outputs"

    @property
    def log(self) -> Path:
        """a0's stdout and stderr."""
        return self.folder / "a0.log"

    @property
    def done(self) -> bool:
        return self.phase in TERMINAL

    def outputs(self) -> task_common_pb2.Outputs | None:
        path = self.outputs_dir / "outputs.pb"
        if self.phase != SUCCEEDED or not path.exists():
            return None
        return task_common_pb2.Outputs.FromString(path.read_bytes())


def _timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromNanoseconds(int(seconds * 1e9))
    return out


def _run_key(project: str, domain: str, name: str) -> tuple[str, str, str]:
    return (project, domain, name)


def _task_key(ident: task_definition_pb2.TaskIdentifier) -> tuple[str, ...]:
    return (ident.org, ident.project, ident.domain, ident.name, ident.version)


class StandinFlyteV2:
    """The stand-in: state, recorded calls, and one threaded HTTP server for every service.

    ``work`` is the folder for blobs, inputs and run folders; ``env`` is added to the
    environment of every ``a0`` it starts (e.g. S3 credentials of a moto server); ``org`` is
    given to ``a0`` when the run's id has none (``a0`` refuses an empty org); ``a0`` is the
    entrypoint to start (default: the stock console script of this Python's installation).
    """

    def __init__(
        self,
        work: Path,
        *,
        env: Mapping[str, str] | None = None,
        org: str = DEFAULT_ORG,
        a0: str | None = None,
    ) -> None:
        self.work = Path(work)
        self.env = dict(env or {})
        self.org = org
        self.a0 = a0 or _console_script("a0")
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.calls: list[tuple[str, Any]] = []
        self.runs: dict[tuple[str, str, str], StandinRun] = {}
        self.tasks: dict[tuple[str, ...], task_definition_pb2.TaskSpec] = {}
        self.uploads: list[Path] = []  # files written by PUTs to signed URLs, in order
        self.faults: dict[str, tuple[Code, str, int | None]] = {}
        self.port = 0
        self._held: bool | set[str] = False
        self._stopped = threading.Event()
        self._stopped.set()
        self._server: WSGIServer | None = None
        self._serving: threading.Thread | None = None
        interceptors = [_Recorder(self)]
        self._apps: list[tuple[str, Callable[..., Iterable[bytes]]]] = [
            (
                "/flyteidl2.workflow.RunService/",
                RunServiceWSGIApplication(_RunService(self), interceptors=interceptors),
            ),
            (
                "/flyteidl2.dataproxy.DataProxyService/",
                DataProxyServiceWSGIApplication(_DataProxy(self), interceptors=interceptors),
            ),
            (
                "/flyteidl2.task.TaskService/",
                TaskServiceWSGIApplication(_TaskService(self), interceptors=interceptors),
            ),
            (
                "/flyteidl2.cluster.ClusterService/",
                ClusterServiceWSGIApplication(_ClusterService(self), interceptors=interceptors),
            ),
        ]

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> StandinFlyteV2:
        """Serve on 127.0.0.1: a free port the first time, the same port after ``stop()``."""
        if self._server is not None:
            return self
        self.work.mkdir(parents=True, exist_ok=True)
        server = _ThreadingWSGIServer(("127.0.0.1", self.port), _QuietHandler)
        server.set_app(self._wsgi)
        self.port = server.server_address[1]
        self._stopped.clear()
        self._server = server
        self._serving = threading.Thread(target=server.serve_forever, daemon=True)
        self._serving.start()
        return self

    def stop(self, *, kill_runs: bool = True) -> None:
        """Stop serving (open watch streams end with UNAVAILABLE); state is kept for ``start()``.

        ``kill_runs`` kills every ``a0`` still running (those runs end FAILED, "stand-in
        stopped") and ends held runs the same way, so no process outlives the test; pass
        ``False`` to let runs go on while the server is unreachable.
        """
        with self.changed:
            self._stopped.set()
            self.changed.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._serving is not None:
            self._serving.join(timeout=5)
            self._serving = None
        if kill_runs:
            self._kill_all("stand-in stopped")

    def reset(self) -> None:
        """Forget calls, runs (killing their processes), tasks, uploads, faults and holds."""
        self._kill_all("stand-in reset")
        with self.changed:
            self.calls.clear()
            self.runs.clear()
            self.tasks.clear()
            self.uploads.clear()
            self.faults.clear()
            self._held = False
            self.changed.notify_all()

    def wait_idle(self, timeout: float = 30) -> bool:
        """Wait until every run has ended and its thread is done; False on timeout."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while any(not run.done for run in self.runs.values()):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
            threads = [run.thread for run in self.runs.values() if run.thread is not None]
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in threads)

    def _kill_all(self, reason: str) -> None:
        with self.changed:
            for run in self.runs.values():
                if not run.done:
                    self._kill(run)
                    self._finish(run, FAILED, _error(reason, system=True))
        self.wait_idle(timeout=10)

    # -- test helpers ----------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """What flyte takes as ``endpoint``/``admin.endpoint``, with ``insecure=True``."""
        return f"dns:///127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The plain HTTP base URL (flyte's client normalizes ``endpoint`` to this)."""
        return f"http://127.0.0.1:{self.port}"

    def fail(self, method: str, code: Code, message: str, times: int | None = None) -> None:
        """Make ``method`` (e.g. ``CreateRun``) answer ``code``: ``times`` calls, or all."""
        with self.lock:
            self.faults[method] = (code, message, times)

    def requests(self, method: str) -> list[Any]:
        """The requests received by ``method``, in order."""
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

    def hold(self, name_or_all: str | bool = True) -> None:  # noqa: FBT001, FBT002
        """Keep new and queued runs (all, or the run named so) RUNNING without starting a0."""
        with self.changed:
            if name_or_all is True:
                self._held = True
            elif isinstance(name_or_all, str) and self._held is not True:
                self._held = {*(self._held or set()), name_or_all}
            self.changed.notify_all()

    def release(self) -> None:
        """Let held runs start their a0."""
        with self.changed:
            self._held = False
            self.changed.notify_all()

    def run(self, name: str) -> StandinRun:
        """The run named ``name`` (any project and domain)."""
        with self.lock:
            for run in self.runs.values():
                if run.name == name:
                    return run
        raise KeyError(name)

    def wait_phase(self, name: str, phases: Iterable[int], timeout: float = 30) -> int:
        """Wait until the run named ``name`` is in one of ``phases``; its phase."""
        wanted = set(phases)
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                run = next((r for r in self.runs.values() if r.name == name), None)
                if run is not None and run.phase in wanted:
                    return run.phase
                left = deadline - time.monotonic()
                if left <= 0:
                    got = "no run" if run is None else phase_pb2.ActionPhase.Name(run.phase)
                    raise TimeoutError(f"run {name}: {got} after {timeout}s")
                self.changed.wait(left)

    # -- request plumbing ------------------------------------------------------------------------

    def _enter(self, method: str, request: Any) -> None:
        """Record a call and apply its fault, if any."""
        copy = type(request)()
        copy.CopyFrom(request)
        with self.lock:
            self.calls.append((method, copy))
            fault = self.faults.get(method)
            if fault is None:
                return
            code, message, times = fault
            if times is not None:
                if times <= 1:
                    del self.faults[method]
                else:
                    self.faults[method] = (code, message, times - 1)
            raise ConnectError(code, message)

    def _wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        _dechunk(environ)
        path = environ.get("PATH_INFO", "")
        if path.startswith("/blobs/"):
            return self._blob(environ, start_response)
        for prefix, app in self._apps:
            if path.startswith(prefix):
                return app(environ, start_response)
        method = path.rsplit("/", 1)[-1]
        with self.lock:
            self.calls.append((method, None))
        body = (
            b'{"code":"unimplemented","message":"stand-in: ' + path.encode() + b' is not served"}'
        )
        start_response(
            "501 Not Implemented",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    def _blob(  # noqa: PLR0911 - one answer per check, as a blob store gives
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> list[bytes]:
        def send(status: str, body: bytes) -> list[bytes]:
            start_response(status, [("Content-Length", str(len(body)))])
            return [body]

        key = unquote(environ["PATH_INFO"].removeprefix("/blobs/"))
        target = (self.work / "blobs" / key).resolve()
        if not target.is_relative_to((self.work / "blobs").resolve()):
            return send("400 Bad Request", b"bad blob path")
        if environ["REQUEST_METHOD"] == "GET":
            if not target.is_file():
                return send("404 Not Found", b"no such blob")
            return send("200 OK", target.read_bytes())
        if environ["REQUEST_METHOD"] != "PUT":
            return send("405 Method Not Allowed", b"PUT or GET")
        data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        expected = environ.get("HTTP_CONTENT_MD5", "")
        actual = base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 - as S3 does
        if expected and expected != actual:
            return send("400 Bad Request", b"BadDigest: Content-MD5 does not match the body")
        parts = key.split("/")
        signed = parts[2] if len(parts) > 3 else ""  # project/domain/<md5>/<root>/<filename>
        if signed not in ("", "-") and signed != _md5_segment(hashlib.md5(data).digest()):  # noqa: S324
            return send("403 Forbidden", b"SignatureDoesNotMatch: body is not the signed content")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        with self.lock:
            self.uploads.append(target)
        return send("200 OK", b"")

    # -- runs ------------------------------------------------------------------------------------

    def _held_run(self, run: StandinRun) -> bool:
        held = self._held
        return held is True or (isinstance(held, set) and run.name in held)

    def _execute(self, run: StandinRun) -> None:
        """The run's life: RUNNING, (held), a0, then SUCCEEDED/FAILED unless aborted."""
        with self.changed:
            if run.done:
                return
            run.started = time.time()
            self._set(run, RUNNING)
            while self._held_run(run) and not run.done:
                self.changed.wait()
            if run.done:
                return
            try:
                command, env = self._command(run)
                log = run.log.open("ab")
                try:
                    run.process = subprocess.Popen(
                        command,
                        cwd=run.folder / "cwd",
                        env=env,
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                finally:
                    log.close()
            except Exception as exc:  # noqa: BLE001 - the run fails, saying why
                self._finish(
                    run, FAILED, _error(f"stand-in could not start a0: {exc!r}", system=True)
                )
                return
            process = run.process
        returncode = process.wait()
        with self.changed:
            run.returncode = returncode
            if run.done:  # aborted or killed meanwhile
                return
            error_pb = run.outputs_dir / "error.pb"
            if error_pb.exists():
                document = execution_pb2.ErrorDocument.FromString(error_pb.read_bytes())
                self._finish(run, FAILED, _error_from_document(document))
            elif returncode == 0 and (run.outputs_dir / "outputs.pb").exists():
                self._finish(run, SUCCEEDED)
            else:
                tail = run.log.read_text(errors="replace")[-_TAIL:] if run.log.exists() else ""
                message = f"a0 exited with status {returncode} without outputs.pb:\n{tail}"
                self._finish(run, FAILED, _error(message, system=True))

    def _command(self, run: StandinRun) -> tuple[list[str], dict[str, str]]:
        container = run.spec.task_template.container
        args = list(container.args) or list(container.command)
        values = {
            "{{.input}}": str(run.inputs_path),
            "{{.outputPrefix}}": str(run.outputs_dir),
            "{{.rawOutputDataPrefix}}": str(run.folder / "raw"),
            "{{.checkpointOutputPrefix}}": str(run.folder / "checkpoint"),
            "{{.prevCheckpointPrefix}}": "",
            "{{.runName}}": run.name,
            "{{.actionName}}": ACTION_NAME,
            "{{.runStartTime}}": "",
        }
        filled = []
        for arg in args:
            for template, value in values.items():
                arg = arg.replace(template, value)  # noqa: PLW2901
            filled.append(arg)
        if filled and filled[0] == "a0":
            filled[0] = self.a0
        extra = [
            "--run-base-dir",
            str(run.folder / "base"),
            "--project",
            run.run_id.project,
            "--domain",
            run.run_id.domain,
            "--org",
            run.run_id.org or self.org,
        ]
        at = filled.index("--resolver") if "--resolver" in filled else len(filled)
        command = filled[:at] + extra + filled[at:]
        env = {"PATH": os.environ.get("PATH", ""), "HOME": str(run.folder / "home")}
        env.update(self.env)
        env.update({pair.key: pair.value for pair in container.env})
        env["DO_NOT_TRACK"] = "1"
        return command, env

    def _set(self, run: StandinRun, phase: int) -> None:
        run.phase = phase
        run.version += 1
        self.changed.notify_all()

    def _finish(
        self, run: StandinRun, phase: int, error: run_definition_pb2.ErrorInfo | None = None
    ) -> None:
        run.error = error
        run.ended = time.time()
        self._set(run, phase)

    def _kill(self, run: StandinRun) -> None:
        process = run.process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

    def abort(self, run: StandinRun, reason: str) -> None:
        with self.changed:
            if run.done:
                return
            run.abort_reason = reason
            self._kill(run)
            self._finish(run, ABORTED)

    def find_run(self, run_id: identifier_pb2.RunIdentifier) -> StandinRun:
        with self.lock:
            run = self.runs.get(_run_key(run_id.project, run_id.domain, run_id.name))
        if run is None:
            raise ConnectError(
                Code.NOT_FOUND, f"run {run_id.project}/{run_id.domain}/{run_id.name} not found"
            )
        return run

    def find_action(self, action_id: identifier_pb2.ActionIdentifier) -> StandinRun:
        run = self.find_run(action_id.run)
        if action_id.name != ACTION_NAME:
            raise ConnectError(Code.NOT_FOUND, f"action {action_id.name} not found")
        return run

    def details(self, run: StandinRun) -> run_definition_pb2.ActionDetails:
        """The run's action details (call with the lock held)."""
        out = run_definition_pb2.ActionDetails()
        out.id.run.CopyFrom(run.run_id)
        out.id.name = ACTION_NAME
        out.metadata.task.short_name = run.spec.short_name
        out.metadata.task.task_type = run.spec.task_template.type
        if run.task_id is not None:
            out.metadata.task.id.CopyFrom(run.task_id)
        out.metadata.environment_name = run.spec.environment.name
        out.status.phase = run.phase  # type: ignore[assignment]
        out.status.start_time.CopyFrom(_timestamp(run.started or run.created))
        if run.ended is not None:
            out.status.end_time.CopyFrom(_timestamp(run.ended))
            out.status.duration_ms = int((run.ended - (run.started or run.created)) * 1000)
        out.task.CopyFrom(run.spec)
        if run.started is not None:
            out.status.attempts = 1
            attempt = out.attempts.add(attempt=1, phase=run.phase)
            attempt.start_time.CopyFrom(_timestamp(run.started))
            if run.ended is not None:
                attempt.end_time.CopyFrom(_timestamp(run.ended))
            if run.error is not None:
                attempt.error_info.CopyFrom(run.error)
        if run.error is not None:
            out.error_info.CopyFrom(run.error)
        if run.phase == ABORTED:
            out.abort_info.reason = run.abort_reason or ""
            out.abort_info.aborted_by.user.spec.email = "standin@127.0.0.1"
        return out

    def watch(self, run: StandinRun) -> Iterator[run_definition_pb2.ActionDetails]:
        """Details now and on every change, until a terminal phase or until the server stops."""
        last = -1
        while True:
            with self.changed:
                while run.version == last and not self._stopped.is_set():
                    self.changed.wait(1)
                if self._stopped.is_set():
                    raise ConnectError(Code.UNAVAILABLE, "stand-in stopped")
                last = run.version
                details = self.details(run)
            yield details
            if details.status.phase in TERMINAL:
                return


def _console_script(name: str) -> str:
    """The console script ``name`` next to this interpreter, or of the base installation."""
    folders = dict.fromkeys(
        sysconfig.get_path("scripts", vars={"base": prefix, "platbase": prefix})
        for prefix in (sys.prefix, sys.base_prefix)
    )
    return shutil.which(name, path=os.pathsep.join(folders)) or shutil.which(name) or name


def _md5_segment(digest: bytes) -> str:
    return base64.b32encode(digest).decode().rstrip("=").lower() if digest else "-"


def _new_run_id(request: run_service_pb2.CreateRunRequest) -> identifier_pb2.RunIdentifier:
    which = request.WhichOneof("id")
    if which == "run_id":
        run_id = identifier_pb2.RunIdentifier()
        run_id.CopyFrom(request.run_id)
    elif which == "project_id":
        run_id = identifier_pb2.RunIdentifier(
            org=request.project_id.organization,
            project=request.project_id.name,
            domain=request.project_id.domain,
            name="r" + secrets.token_hex(9),
        )
    else:
        raise ConnectError(Code.INVALID_ARGUMENT, "run_id or project_id is required")
    if not run_id.project or not run_id.domain or not run_id.name:
        raise ConnectError(Code.INVALID_ARGUMENT, "run id lacks project, domain or name")
    return run_id


def _inputs(request: run_service_pb2.CreateRunRequest) -> tuple[task_common_pb2.Inputs, Path]:
    """The run's inputs, and the inputs.pb they are in (none yet for inline inputs)."""
    if request.WhichOneof("input_wrapper") != "offloaded_input_data":
        return request.inputs, Path()
    uri = request.offloaded_input_data.uri
    path = Path(uri.removeprefix("file://"))
    if not path.is_file():
        raise ConnectError(Code.INVALID_ARGUMENT, f"offloaded inputs {uri} not found")
    return task_common_pb2.Inputs.FromString(path.read_bytes()), path


def _error(message: str, *, system: bool = False) -> run_definition_pb2.ErrorInfo:
    kind = (
        run_definition_pb2.ErrorInfo.KIND_SYSTEM
        if system
        else run_definition_pb2.ErrorInfo.KIND_USER
    )
    code = "SystemError" if system else "UserError"
    return run_definition_pb2.ErrorInfo(message=message, kind=kind, code=code)


def _error_from_document(document: execution_pb2.ErrorDocument) -> run_definition_pb2.ErrorInfo:
    error = document.error
    system = error.origin == execution_pb2.ExecutionError.SYSTEM
    out = _error(error.message, system=system)
    if error.code:
        out.code = error.code
    return out


def _dechunk(environ: dict[str, Any]) -> None:
    """Give the app a body it can read to its end: wsgiref hands over the raw socket.

    wsgiref does not decode chunked request bodies (flyte's client sends server-streaming
    requests chunked), and its ``wsgi.input`` never ends on a keep-alive connection, so the
    Connect app, which drains the body to EOF on errors, would wait for the client forever.
    The body is read here (chunked or by Content-Length) and handed over as a BytesIO.
    """
    stream = environ["wsgi.input"]
    if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        body = bytearray()
        while True:
            line = stream.readline(65537)
            try:
                size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            except ValueError:
                size = 0
            if size == 0:
                while stream.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                break
            body += stream.read(size)
            stream.readline(65537)  # the CRLF after the chunk
        del environ["HTTP_TRANSFER_ENCODING"]
        data = bytes(body)
    else:
        data = stream.read(int(environ.get("CONTENT_LENGTH") or 0))
    environ["wsgi.input"] = io.BytesIO(data)
    environ["CONTENT_LENGTH"] = str(len(data))


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass


class _Recorder:
    """Connect interceptor: records each call, applies faults, never lets a bug be UNKNOWN."""

    def __init__(self, state: StandinFlyteV2) -> None:
        self.s = state

    def intercept_unary_sync(self, call_next: Any, request: Any, ctx: Any) -> Any:
        self.s._enter(ctx.method().name, request)
        try:
            return call_next(request, ctx)
        except ConnectError:
            raise
        except Exception as exc:
            raise ConnectError(Code.INTERNAL, f"stand-in error: {exc!r}") from exc

    def intercept_server_stream_sync(self, call_next: Any, request: Any, ctx: Any) -> Any:
        self.s._enter(ctx.method().name, request)
        try:
            yield from call_next(request, ctx)
        except ConnectError:
            raise
        except Exception as exc:
            raise ConnectError(Code.INTERNAL, f"stand-in error: {exc!r}") from exc


class _ClusterService(ClusterServiceSync):
    def __init__(self, state: StandinFlyteV2) -> None:
        self.s = state

    def select_cluster(self, _request: Any, _ctx: Any) -> cluster_pb2.SelectClusterResponse:
        # no endpoint: flyte's cluster-aware clients use their default client, this server
        return cluster_pb2.SelectClusterResponse()


class _DataProxy(DataProxyServiceSync):
    def __init__(self, state: StandinFlyteV2) -> None:
        self.s = state

    def create_upload_location(
        self, request: dataproxy_pb2.CreateUploadLocationRequest, _ctx: Any
    ) -> dataproxy_pb2.CreateUploadLocationResponse:
        r = request
        if not r.project or not r.domain:
            raise ConnectError(Code.INVALID_ARGUMENT, "project and domain are required")
        if not r.filename:
            raise ConnectError(Code.INVALID_ARGUMENT, "filename is required")
        if r.content_md5 and len(r.content_md5) != 16:
            raise ConnectError(Code.INVALID_ARGUMENT, "content_md5 must be an MD5 digest")
        root = r.filename_root or "-"
        key = f"{r.project}/{r.domain}/{_md5_segment(r.content_md5)}/{root}/{r.filename}"
        out = dataproxy_pb2.CreateUploadLocationResponse(
            signed_url=f"{self.s.url}/blobs/{key}",
            native_url=(self.s.work / "blobs" / key).resolve().as_uri(),
        )
        out.expires_at.CopyFrom(_timestamp(time.time() + 3600))
        return out

    def upload_inputs(
        self, request: dataproxy_pb2.UploadInputsRequest, _ctx: Any
    ) -> dataproxy_pb2.UploadInputsResponse:
        data = request.inputs.SerializeToString(deterministic=True)
        digest = hashlib.sha256(data).hexdigest()
        path = self.s.work / "inputs" / digest / "inputs.pb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        offloaded = common_run_pb2.OffloadedInputData(uri=str(path), inputs_hash=digest)
        return dataproxy_pb2.UploadInputsResponse(offloaded_input_data=offloaded)

    def get_action_data(
        self, request: dataproxy_pb2.GetActionDataRequest, _ctx: Any
    ) -> dataproxy_pb2.GetActionDataResponse:
        run = self.s.find_action(request.action_id)
        with self.s.lock:
            out = dataproxy_pb2.GetActionDataResponse(inputs=run.inputs)
            out.inputs_uri = str(run.inputs_path)
            outputs = run.outputs()
            if outputs is not None:
                out.outputs.CopyFrom(outputs)
                out.outputs_uri = str(run.outputs_dir / "outputs.pb")
        return out


class _TaskService(TaskServiceSync):
    def __init__(self, state: StandinFlyteV2) -> None:
        self.s = state

    def deploy_task(
        self, request: task_service_pb2.DeployTaskRequest, _ctx: Any
    ) -> task_service_pb2.DeployTaskResponse:
        ident = request.task_id
        missing = [f for f in ("project", "domain", "name", "version") if not getattr(ident, f)]
        if missing:
            raise ConnectError(Code.INVALID_ARGUMENT, f"task id lacks {', '.join(missing)}")
        key = _task_key(ident)
        with self.s.lock:
            known = self.s.tasks.get(key)
            if known is not None:
                same = "an identical spec" if known == request.spec else "a DIFFERENT spec"
                raise ConnectError(
                    Code.ALREADY_EXISTS, f"task {':'.join(key)} already exists with {same}"
                )
            self.s.tasks[key] = request.spec
        return task_service_pb2.DeployTaskResponse()

    def get_task_details(
        self, request: task_service_pb2.GetTaskDetailsRequest, _ctx: Any
    ) -> task_service_pb2.GetTaskDetailsResponse:
        with self.s.lock:
            spec = self.s.tasks.get(_task_key(request.task_id))
        if spec is None:
            raise ConnectError(
                Code.NOT_FOUND, f"task {':'.join(_task_key(request.task_id))} not found"
            )
        details = task_definition_pb2.TaskDetails(task_id=request.task_id, spec=spec)
        return task_service_pb2.GetTaskDetailsResponse(details=details)


class _RunService(RunServiceSync):
    def __init__(self, state: StandinFlyteV2) -> None:
        self.s = state

    def create_run(
        self, request: run_service_pb2.CreateRunRequest, _ctx: Any
    ) -> run_service_pb2.CreateRunResponse:
        s = self.s
        run_id = _new_run_id(request)
        spec, task_id = self._task(request)
        wrapper = request.WhichOneof("input_wrapper")
        inputs, inputs_path = _inputs(request)
        key = _run_key(run_id.project, run_id.domain, run_id.name)
        with s.changed:
            if key in s.runs:
                raise ConnectError(Code.ALREADY_EXISTS, f"run {'/'.join(key)} already exists")
            folder = s.work / "runs" / run_id.project / run_id.domain / run_id.name
            for sub in ("outputs", "raw", "checkpoint", "base", "cwd", "home"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
            if wrapper != "offloaded_input_data":
                inputs_path = folder / "inputs.pb"
                inputs_path.write_bytes(inputs.SerializeToString())
            run = StandinRun(
                run_id=run_id,
                spec=spec,
                task_id=task_id,
                run_spec=request.run_spec,
                inputs=inputs,
                inputs_path=inputs_path,
                folder=folder,
            )
            s.runs[key] = run
            response = run_service_pb2.CreateRunResponse()
            details = s.details(run)
            response.run.action.id.CopyFrom(details.id)
            response.run.action.metadata.CopyFrom(details.metadata)
            response.run.action.status.CopyFrom(details.status)
            run.thread = threading.Thread(target=s._execute, args=(run,), daemon=True)
            run.thread.start()
        return response

    def _task(
        self, request: run_service_pb2.CreateRunRequest
    ) -> tuple[task_definition_pb2.TaskSpec, task_definition_pb2.TaskIdentifier | None]:
        task = request.WhichOneof("task")
        if task == "task_spec":
            return request.task_spec, None
        if task == "task_id":
            with self.s.lock:
                found = self.s.tasks.get(_task_key(request.task_id))
            if found is None:
                raise ConnectError(
                    Code.NOT_FOUND, f"task {':'.join(_task_key(request.task_id))} is not deployed"
                )
            return found, request.task_id
        raise ConnectError(Code.UNIMPLEMENTED, f"stand-in: CreateRun with {task} as the task")

    def abort_run(
        self, request: run_service_pb2.AbortRunRequest, _ctx: Any
    ) -> run_service_pb2.AbortRunResponse:
        run = self.s.find_run(request.run_id)
        self.s.abort(run, request.reason if request.HasField("reason") else "")
        return run_service_pb2.AbortRunResponse()

    def _run_details(self, run: StandinRun) -> run_definition_pb2.RunDetails:
        out = run_definition_pb2.RunDetails()
        out.run_spec.CopyFrom(run.run_spec)
        out.action.CopyFrom(self.s.details(run))
        return out

    def get_run_details(
        self, request: run_service_pb2.GetRunDetailsRequest, _ctx: Any
    ) -> run_service_pb2.GetRunDetailsResponse:
        run = self.s.find_run(request.run_id)
        with self.s.lock:
            return run_service_pb2.GetRunDetailsResponse(details=self._run_details(run))

    def get_action_details(
        self, request: run_service_pb2.GetActionDetailsRequest, _ctx: Any
    ) -> run_service_pb2.GetActionDetailsResponse:
        run = self.s.find_action(request.action_id)
        with self.s.lock:
            return run_service_pb2.GetActionDetailsResponse(details=self.s.details(run))

    def watch_action_details(
        self, request: run_service_pb2.WatchActionDetailsRequest, _ctx: Any
    ) -> Iterator[run_service_pb2.WatchActionDetailsResponse]:
        run = self.s.find_action(request.action_id)
        for details in self.s.watch(run):
            yield run_service_pb2.WatchActionDetailsResponse(details=details)

    def watch_run_details(
        self, request: run_service_pb2.WatchRunDetailsRequest, _ctx: Any
    ) -> Iterator[run_service_pb2.WatchRunDetailsResponse]:
        run = self.s.find_run(request.run_id)
        for details in self.s.watch(run):
            out = run_service_pb2.WatchRunDetailsResponse()
            out.details.run_spec.CopyFrom(run.run_spec)
            out.details.action.CopyFrom(details)
            yield out

    def get_action_data(
        self, request: run_service_pb2.GetActionDataRequest, _ctx: Any
    ) -> run_service_pb2.GetActionDataResponse:
        run = self.s.find_action(request.action_id)
        with self.s.lock:
            out = run_service_pb2.GetActionDataResponse(inputs=run.inputs)
            outputs = run.outputs()
            if outputs is not None:
                out.outputs.CopyFrom(outputs)
        return out


__all__ = ["ABORTED", "FAILED", "QUEUED", "RUNNING", "SUCCEEDED", "StandinFlyteV2", "StandinRun"]
