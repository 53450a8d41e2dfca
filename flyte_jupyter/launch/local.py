"""The embedded backend: runs the serialized container command on this machine.

A task runs exactly as a Flyte pod would run it, with the command and variables its SDK gives
(:meth:`flyte_jupyter.sdk.FlyteSdk.local_command`). For flytekit: ``pyflyte-fast-execute``
downloads the bundle from its bundle store URI into the run's working folder and hands over to
``pyflyte-execute`` with the task's resolver, reading ``inputs.pb`` and writing ``outputs.pb``
or ``error.pb``; a workflow runs with flytekit's local execution in a process that imports it
from the same extracted bundle. Each run has a supervisor process in its own session (see
:mod:`flyte_jupyter.launch.supervisor`), so runs outlive kernel restarts and cancel ends the
whole process group. Whether a supervisor lives is read from its lease, which every process
sharing the home folder sees; only a process that can prove its death records it (see
:mod:`flyte_jupyter.launch.liveness`).

The run's folder (``<home>/runs/<id>/``, 0700 like the home) keeps what the run needs and the
run page shows, each file 0600: ``inputs.pb``, ``run.log``, ``bundle.json`` (secrets
redacted) and ``command.json`` with the argv, working folder and, of the environment, only
the variables the run adds to the kernel's (settings ``env``, ``FLYTE_INTERNAL_*``, the
``FLYTE_AWS_*`` of an S3 bundle store) with secrets redacted. The whole environment (AWS keys,
storage secrets) goes to the supervisor through its stdin when it starts, never to disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte_jupyter._private import open_private, private_dir, secure_home, write_private
from flyte_jupyter.errors import CancelPendingError, LaunchError
from flyte_jupyter.launch.liveness import (
    HEARTBEAT_EVERY,
    host_id,
    lease_expired,
    provably_dead,
    start_time,
    visible,
)
from flyte_jupyter.launch.model import RunPaths, RunRecord
from flyte_jupyter.launch.runstore import RunStore
from flyte_jupyter.launch.urls import run_url
from flyte_jupyter.redaction import Redactor, redact_url
from flyte_jupyter.sdk import SDKS, LocalRun, load_sdk
from flyte_jupyter.settings.local_runs import RUN_MODE, RUN_MODE_NOTE
from flyte_jupyter.worker import POOL

if TYPE_CHECKING:
    from collections.abc import Mapping

    from flyte_jupyter.bundle import Bundle
    from flyte_jupyter.launch.model import LaunchSpec
    from flyte_jupyter.settings import Settings

CANCEL_GRACE = 5.0
_FLYTE_S3_VARIABLES = (
    ("endpoint_url", "FLYTE_AWS_ENDPOINT"),
    ("key", "FLYTE_AWS_ACCESS_KEY_ID"),
    ("secret", "FLYTE_AWS_SECRET_ACCESS_KEY"),
)
# Variables of the kernel's environment that must not leak into a run.
_KERNEL_ONLY = ("PYTHONPATH", "JPY_PARENT_PID", "JPY_SESSION_NAME", "MPLBACKEND", "PYTHONSTARTUP")
# What command.json says of the environment it does not hold.
ENV_NOTE = (
    "The run's environment is the kernel's start-up environment plus these variables; the "
    "supervisor received it from the kernel when it started. Only these variables are "
    "recorded, secrets redacted."
)


class LocalLauncher:
    """Start and follow runs on this machine."""

    name = "local"

    def __init__(self, home: Path, *, max_parallel: int | None, server_url: str | None) -> None:
        self.home = home
        self.run_store = RunStore(home / "runs.sqlite")
        self.max_parallel = max_parallel or os.cpu_count() or 1
        self.server_url = server_url

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalLauncher:
        """The local launcher for these settings."""
        return cls(
            settings.home,
            max_parallel=settings.max_parallel_runs,
            server_url=settings.server_url,
        )

    def submit(self, spec: LaunchSpec) -> RunRecord:
        """Write the run's files, record it, start its supervisor."""
        secure_home(self.home)
        paths = RunPaths(self.home / "runs" / spec.run_id)
        for folder in (paths.root, paths.work, paths.outputs, paths.raw):
            private_dir(folder)
        write_private(paths.inputs, spec.inputs_pb)
        env = self._env(spec, paths)
        redactor = Redactor.of(env)
        command = {
            "sdk": spec.sdk,  # reads the run's outputs and error document
            "argv": self._argv(spec, paths),
            "env": _recorded_env(spec, env, redactor),
            "env_note": ENV_NOTE,
            "cwd": str(paths.work),
            "max_parallel": self.max_parallel,
            "image": _image(spec),
            "bundle": _bundle_entry(spec),
            "note": _note(spec),
        }
        write_private(paths.command, json.dumps(command, indent=1))
        if spec.bundle is not None:  # what the run page shows of the bundle
            summary = bundle_summary(spec.bundle, redactor)
            write_private(paths.bundle, json.dumps(summary, indent=1))
        record = _record(spec, paths, run_url(self.server_url, spec.run_id))
        self.run_store.add(record)
        try:
            pid, mode = self._start_supervisor(spec, paths, env)
            self.run_store.add_extra(
                spec.run_id,
                sdk=spec.sdk,
                pid=pid,
                started=start_time(pid),
                host=host_id(),
                **mode,
            )
        except BaseException as exc:  # interrupted or failed: never leave a QUEUED ghost
            self.run_store.update(
                spec.run_id, "FAILED", "launch interrupted", error=f"launch failed: {exc!r}"
            )
            raise
        return self.refresh(record)

    def _start_supervisor(
        self, spec: LaunchSpec, paths: RunPaths, env: dict[str, str]
    ) -> tuple[int, dict[str, str]]:
        """Start the run's supervisor: forked from the warm worker, else a new interpreter.

        The pid and how the run runs (``run_mode``, and ``run_mode_note`` when a warm run
        could not be).
        """
        args = {"home": str(self.home), "run_id": spec.run_id, "root": str(paths.root)}
        wanted = spec.settings.local_runs
        if wanted == "warm":
            pid = POOL.spawn(
                "flyte_jupyter.launch.supervisor:serve",
                args,
                env=env,
                base_env=os.environ if spec.environ is None else spec.environ,
                cwd=paths.work,
                output=paths.log,
            )
            if pid is not None:
                return pid, {RUN_MODE: "warm"}
        with open_private(paths.log) as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "flyte_jupyter.launch.supervisor", *args.values()],
                start_new_session=True,  # its own process group: cancel ends all of it
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.PIPE,  # the run's environment: never written to disk
            )
        _hand_over(proc, env)
        mode = {RUN_MODE: "exact"}
        if wanted == "warm":
            mode[RUN_MODE_NOTE] = (
                "the warm worker was not available (see the kernel's log); "
                "the run started as a pod would"
            )
        return proc.pid, mode

    def _argv(self, spec: LaunchSpec, paths: RunPaths) -> list[str]:
        args = load_sdk(spec.sdk).local_command(_local_run(spec, paths))
        return [console_script(args[0], spec.sdk), *args[1:]]

    def _env(self, spec: LaunchSpec, paths: RunPaths) -> dict[str, str]:
        base = os.environ if spec.environ is None else spec.environ
        # flyte v2 reports to Sentry unless told not to: off, unless the user's environment or
        # the settings' env turned it on
        env = {"DO_NOT_TRACK": "1", **{k: v for k, v in base.items() if k not in _KERNEL_ONLY}}
        if spec.kind == "task":  # a pod gets its container's env (flyte v2's a0 never sets it)
            env.update(spec.serialized.container_env(spec.entity))
        env.update(spec.settings.env_dict)
        settings = spec.settings
        env.update(load_sdk(spec.sdk).local_env(_local_run(spec, paths)))
        options = settings.storage_options_dict
        if spec.bundle is not None and str(spec.bundle.uri).startswith("s3://"):
            # both SDKs' data layers (flytekit, flyte v2) read these for S3-compatible stores
            for option, variable in (
                ("endpoint_url", "FLYTE_AWS_ENDPOINT"),
                ("key", "FLYTE_AWS_ACCESS_KEY_ID"),
                ("secret", "FLYTE_AWS_SECRET_ACCESS_KEY"),
            ):
                if options.get(option):
                    env[variable] = str(options[option])
        return env

    def refresh(self, record: RunRecord) -> RunRecord:
        """The run's current record, as the kernel that holds its handle sees it.

        A run whose supervisor this process can prove dead (same machine boot and PID
        namespace, its PID gone, its lease expired) is recorded FAILED. Anything less proves
        nothing, and the record stays as it is: readers show such a run as lost.
        """
        current = self.run_store.get(record.id) or record
        if provably_dead(current):
            message = (
                f"The run's supervisor (pid {current.extra.get('pid')}) was killed, or its "
                "machine restarted, before it recorded an outcome"
                f"{_last_heard(current)}. Run it again."
            )
            self.run_store.update(record.id, "FAILED", "supervisor lost", error=message)
            current = self.run_store.get(record.id) or current
        return current

    def outputs_pb(self, record: RunRecord) -> bytes | None:
        """``outputs.pb`` of a finished run."""
        if record.run_dir is None or record.status != "SUCCEEDED":
            return None
        path = RunPaths(Path(record.run_dir)).outputs / "outputs.pb"
        return path.read_bytes() if path.exists() else None

    def logs(self, record: RunRecord) -> str:
        """The run's log so far."""
        if not record.log_path or not Path(record.log_path).exists():
            return ""
        return Path(record.log_path).read_text(encoding="utf-8", errors="replace")

    def cancel(self, record: RunRecord) -> RunRecord:
        """Stop the run; it ends ABORTED.

        A supervisor this process can see gets SIGTERM for its whole process group, then
        SIGKILL after a grace period. One it cannot see (another container sharing the home
        folder) finds a cancel request in the run folder at its next heartbeat and stops the
        run itself. A run whose supervisor is not heard from is recorded ABORTED.

        Raises
        ------
        CancelPendingError
            The supervisor is heard from but did not confirm the cancel in time (the request
            stays in the run folder: it acts on it at its next heartbeat).
        """
        current = self.refresh(record)
        if current.done:
            return current
        if current.run_dir:  # seen by a supervisor still starting, or out of our reach
            with contextlib.suppress(OSError):
                RunPaths(Path(current.run_dir)).cancel_request.touch()
        if visible(current.extra):
            pid = int(current.extra["pid"])
            _signal_group(pid, signal.SIGTERM)
            deadline = time.monotonic() + CANCEL_GRACE
            while time.monotonic() < deadline and visible(current.extra):
                time.sleep(0.05)
            if visible(current.extra):
                _signal_group(pid, signal.SIGKILL)
            self.run_store.update(record.id, "ABORTED", "cancelled")
            return self.refresh(record)
        return self._await_cancel(current)

    def _await_cancel(self, current: RunRecord) -> RunRecord:
        """Wait for a supervisor out of reach to act on the cancel request."""
        deadline = time.monotonic() + CANCEL_GRACE + 3 * HEARTBEAT_EVERY
        while time.monotonic() < deadline and not lease_expired(current):
            time.sleep(0.1)
            current = self.run_store.get(current.id) or current
            if current.done:
                return current
        if lease_expired(current):
            message = (
                f"cancelled; its supervisor was not heard from{_last_heard(current)}, so "
                "nothing could be stopped from here (if it still runs, it stops at its next "
                "heartbeat)"
            )
            self.run_store.update(current.id, "ABORTED", message)
            return self.run_store.get(current.id) or current
        msg = (
            f"Asked run {current.id} to stop, but its supervisor (pid "
            f"{current.extra.get('pid')}, which this process cannot signal) has not confirmed "
            f"within {CANCEL_GRACE + 3 * HEARTBEAT_EVERY:.0f} s. Look at the run again in a "
            "moment; cancel it from the kernel that started it if it keeps running."
        )
        raise CancelPendingError(msg)


def _local_run(spec: LaunchSpec, paths: RunPaths) -> LocalRun:
    """What the entity's SDK needs to know of the run to give its command."""
    return LocalRun(
        run_id=spec.run_id,
        kind=spec.kind,
        entity=spec.entity,
        flyte_name=spec.flyte_name,
        module=spec.module,
        version=spec.version,
        project=spec.settings.project,
        domain=spec.settings.domain,
        container_args=(
            tuple(spec.serialized.container_args(spec.entity)) if spec.kind == "task" else ()
        ),
        bundle_uri=str(spec.bundle.uri) if spec.bundle is not None else None,
        inputs=paths.inputs,
        outputs=paths.outputs,
        raw=paths.raw,
        checkpoint=paths.checkpoint,
        calls=spec.calls,
    )


def _note(spec: LaunchSpec) -> str | None:
    """How the run goes when not as a pod would run it (the run's RUNNING event says it)."""
    if not spec.calls:
        return None
    return f"in {spec.sdk}'s local mode (the task calls other tasks: {', '.join(spec.calls)})"


def _bundle_entry(spec: LaunchSpec) -> dict[str, str] | None:
    """What the supervisor needs to fetch the bundle and check it is the one built.

    None with no bundle, or one uploaded through Flyte's data proxy (store ``flyte``), which
    flytekit fetches with the cluster's storage config as before.
    """
    bundle = spec.bundle
    if bundle is None or bundle.uri is None or bundle.sha256 is None:
        return None
    if spec.settings.store == "flyte":
        return None
    from flyte_jupyter.launch.fetch import bundle_entry

    return bundle_entry(bundle.uri, bundle.digest, bundle.sha256, bundle.path)


def _image(spec: LaunchSpec) -> str | None:
    if spec.kind != "task":
        return None
    return spec.serialized.container_image(spec.entity)


def bundle_summary(bundle: Bundle, redactor: Redactor | None = None) -> dict[str, Any]:
    """The bundle as the run page shows it: digest, files, module source, what was left out.

    Secrets are redacted (``redactor`` knows the run's secret values): the summary is written
    to the run's folder and shown to whoever opens the run.
    """
    redactor = redactor or Redactor()
    return {
        "digest": bundle.digest,
        "uri": redact_url(bundle.uri) if bundle.uri else bundle.uri,
        "module": bundle.module,
        "source": redactor.code(bundle.source) if bundle.source is not None else None,
        "files": [
            {"path": e.path, "size": e.size, "mode": f"{e.mode:o}", "sha256": e.sha256}
            for e in bundle.entries
        ],
        "dropped": [
            {"cell": d.cell, "line": d.line, "code": redactor.text(d.code), "reason": d.reason}
            for d in bundle.dropped
        ],
        "excluded": [{"path": e.path, "reason": e.reason} for e in bundle.excluded],
        "warnings": list(bundle.warnings),
    }


def _recorded_env(spec: LaunchSpec, env: Mapping[str, str], redactor: Redactor) -> dict[str, str]:
    """What ``command.json`` keeps of the run's environment (see :data:`ENV_NOTE`)."""
    base = os.environ if spec.environ is None else spec.environ  # may hold the settings' env
    wanted = spec.settings.env_dict
    added = {k: v for k, v in env.items() if k in wanted or base.get(k) != v}
    return {k: redactor.value(k, v) for k, v in sorted(added.items())}


def _hand_over(proc: subprocess.Popen[bytes], env: Mapping[str, str]) -> None:
    """Give the supervisor the run's environment through its stdin (never through a file)."""
    if proc.stdin is None:  # pragma: no cover - started with stdin=PIPE
        return
    with proc.stdin:
        proc.stdin.write(json.dumps(dict(env)).encode("utf-8"))


def _record(spec: LaunchSpec, paths: RunPaths, url: str) -> RunRecord:
    now = time.time()
    return spec.queued_record(
        "local",
        now,
        extra={},
        heartbeat_at=now,  # the lease starts with the run; the supervisor renews it
        url=url,
        run_dir=str(paths.root),
        log_path=str(paths.log),
    )


def console_script(name: str, sdk: str) -> str:
    """Where the console script ``name`` of the SDK's entrypoints is (``name`` if a path).

    This interpreter's scripts folder first; then, in a virtualenv made with
    ``--system-site-packages``, that of the installation it extends (the SDK may be installed
    there, and then so are its scripts); then PATH.
    """
    if os.sep in name:
        return name
    folders = dict.fromkeys(
        sysconfig.get_path("scripts", vars={"base": prefix, "platbase": prefix})
        for prefix in (sys.prefix, sys.base_prefix)
    )
    found = shutil.which(name, path=os.pathsep.join(folders)) or shutil.which(name)
    if found is None:
        msg = f"{name} is not installed in this environment. Install {sdk}: {SDKS[sdk].install}"
        raise LaunchError(msg)
    return found


def _last_heard(record: RunRecord) -> str:
    if record.heartbeat_at is None:
        return ""
    return f" (last heard from at {time.strftime('%H:%M:%S', time.localtime(record.heartbeat_at))})"


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
