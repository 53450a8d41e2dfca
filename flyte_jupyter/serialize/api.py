"""Serialize a bundle's entities to protobuf specs, cached by what determines the result.

The work happens in ``flyte_jupyter.runtime.serialize_worker`` in a fresh interpreter that
imports the module from the extracted archive, so the specs describe the code that ships,
not whatever the notebook holds in memory. Each SDK writes its own messages: flytekit the
flyteidl ``TaskSpec``/``WorkflowSpec``/``LaunchPlan`` of ``get_serializable``, flyte v2 the
flyteidl2 ``TaskSpec`` of ``translate_task_to_wire``; the files are named alike.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from flyte_jupyter.errors import SerializationError
from flyte_jupyter.worker import POOL

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from flyte_jupyter.bundle import Bundle
    from flyte_jupyter.worker import JobResult

TIMEOUT = 600
_WORKER = "flyte_jupyter.runtime.serialize_worker"
ResourceKind = Literal["task", "workflow", "launch plan"]
_KINDS: dict[str, ResourceKind] = {"1": "task", "2": "workflow", "3": "launch plan"}


@dataclass(frozen=True)
class SerializedFile:
    """One ``<index>_<name>_<resource type>.pb`` file, as ``pyflyte package`` names them."""

    path: Path
    kind: ResourceKind
    name: str
    sdk: str = "flytekit"

    def read(self) -> Any:
        """Parse the file into its message (TaskSpec, WorkflowSpec or LaunchPlan).

        flytekit's are flyteidl ``admin`` messages; flyte v2's task is a flyteidl2
        ``task_definition_pb2.TaskSpec``.
        """
        if self.sdk == "flyte":
            spec: Any = importlib.import_module("flyteidl2.task.task_definition_pb2").TaskSpec()
            spec.ParseFromString(self.path.read_bytes())
            return spec
        from flyteidl.admin import launch_plan_pb2, task_pb2, workflow_pb2

        message: Any = {
            "task": task_pb2.TaskSpec,
            "workflow": workflow_pb2.WorkflowSpec,
            "launch plan": launch_plan_pb2.LaunchPlan,
        }[self.kind]()
        message.ParseFromString(self.path.read_bytes())
        return message

    def container(self) -> Any:
        """The task's container (image, args, env), whichever SDK wrote it."""
        spec = self.read()
        template = spec.task_template if self.sdk == "flyte" else spec.template
        return template.container


@dataclass(frozen=True)
class Serialized:
    """The serialized entities of one bundle under one set of serialization settings.

    ``names`` maps each requested Python name (``square``) to its Flyte name
    (``nb_quickstart.square``).
    """

    folder: Path
    files: tuple[SerializedFile, ...]
    names: dict[str, str]
    sdk: str = "flytekit"

    def find(self, name: str, kind: ResourceKind | None = None) -> SerializedFile:
        """The file of entity ``name`` (Python or Flyte name), optionally of one kind."""
        flyte_name = self.names.get(name, name)
        for item in self.files:
            if item.name == flyte_name and kind in (None, item.kind):
                return item
        msg = f"{name!r} was not serialized; serialized: {sorted(f.name for f in self.files)}"
        raise SerializationError(msg)

    def task_spec(self, name: str) -> Any:
        """The flyteidl ``TaskSpec`` of task ``name``."""
        return self.find(name, "task").read()

    def container_args(self, name: str) -> list[str]:
        """The container command of task ``name`` exactly as serialized."""
        return list(self.find(name, "task").container().args)

    def container_image(self, name: str) -> str:
        """The container image of task ``name`` as serialized."""
        return str(self.find(name, "task").container().image)

    def container_env(self, name: str) -> dict[str, str]:
        """The container environment of task ``name`` as serialized (``env_vars``, ``--env``)."""
        return {item.key: item.value for item in self.find(name, "task").container().env}


def serialize_bundle(
    bundle: Bundle | None,
    targets: Sequence[tuple[str, str]],
    settings_json: str,
    *,
    cache_dir: Path,
    sdk: str = "flytekit",
    environ: Mapping[str, str] | None = None,
) -> Serialized:
    """Serialize entities of one SDK with its settings (given as JSON).

    Parameters
    ----------
    bundle
        The bundle to import the entities from; None when the code is installed in the
        environment and the image (copy style ``none``).
    targets
        ``(name, module)`` of each entity.
    settings_json
        flytekit: ``SerializationSettings.to_json()``; flyte v2: the JSON of
        :func:`flyte_jupyter.settings.serialization.flyte_v2_settings`.
    cache_dir
        Results are cached under ``cache_dir/serialized`` by (SDK, bundle digest, targets,
        settings): the same code and settings are serialized once.
    sdk
        The SDK of every target (``flytekit`` or ``flyte``).
    environ
        The environment runs start from (None: this process's): the warm worker that
        serializes is the one started from it (:mod:`flyte_jupyter.worker`).
    """
    digest = bundle.digest if bundle else None
    parts = [digest, sorted(targets), settings_json] + ([sdk] if sdk != "flytekit" else [])
    key = hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]
    folder = cache_dir / "serialized" / key
    summary = folder / "summary.json"
    if not summary.exists():
        _run_worker(
            bundle, [list(t) for t in targets], settings_json, folder, sdk=sdk, environ=environ
        )
    names = json.loads(summary.read_text())["names"]
    return Serialized(folder=folder, files=_files(folder, sdk), names=names, sdk=sdk)


def _files(folder: Path, sdk: str) -> tuple[SerializedFile, ...]:
    out = []
    for path in sorted(folder.glob("*.pb")):
        stem = path.stem
        _, rest = stem.split("_", 1)
        name, kind = rest.rsplit("_", 1)
        out.append(SerializedFile(path=path, kind=_KINDS[kind], name=name, sdk=sdk))
    return tuple(out)


def _run_worker(
    bundle: Bundle | None,
    targets: list[list[str]],
    settings_json: str,
    folder: Path,
    *,
    sdk: str,
    environ: Mapping[str, str] | None,
) -> None:
    entities = [name for name, _ in targets]
    with tempfile.TemporaryDirectory(prefix="fj-serialize-") as tmp:
        root = None
        if bundle is not None:
            root = Path(tmp) / "bundle"
            with tarfile.open(bundle.path) as tar:
                tar.extractall(root, filter="data")
        staging = Path(tmp) / "out"
        request = {
            "root": str(root) if root else None,
            "targets": targets,
            "settings": settings_json,
            "out": str(staging),
            "sdk": sdk,
        }
        env = {"DO_NOT_TRACK": "1", **os.environ}  # flyte v2's Sentry: off unless turned on
        try:
            job = POOL.call(
                f"{_WORKER}:serialize",
                request,
                env=env,
                base_env=os.environ if environ is None else environ,
                cwd=Path(tmp),
                timeout=TIMEOUT,
            )
            result = _run_cold(request, Path(tmp), env) if job is None else _result(job)
        except (TimeoutError, subprocess.TimeoutExpired) as exc:
            msg = f"Serializing {', '.join(entities)} took over {TIMEOUT} s and was stopped."
            raise SerializationError(msg) from exc
        if not result.get("ok"):
            msg = (
                f"{sdk} could not serialize {', '.join(entities)}: "
                f"{result['type']}: {result['message']}\n{result.get('traceback', '')}"
            )
            raise SerializationError(msg)
        (staging / "summary.json").write_text(json.dumps(result, sort_keys=True))
        folder.parent.mkdir(parents=True, exist_ok=True)
        if folder.exists():  # another kernel finished first: same inputs, same result
            return
        shutil.move(str(staging), folder)


def _run_cold(request: Mapping[str, Any], tmp: Path, env: Mapping[str, str]) -> dict[str, Any]:
    request_file = tmp / "request.json"
    request_file.write_text(json.dumps(request), encoding="utf-8")
    proc = subprocess.run(  # noqa: PLW1510 - the result is read from the JSON line
        [sys.executable, "-I", "-m", _WORKER, str(request_file)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=tmp,
        env=env,
    )
    return _parse(proc)


def _result(job: JobResult) -> dict[str, Any]:
    if job.result is None:
        detail = job.output.strip()[-3000:]
        msg = f"The serialization process failed (exit status {job.status}):\n{detail}"
        raise SerializationError(msg)
    return job.result


def _parse(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = proc.stdout.strip().splitlines()
    try:
        parsed: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        parsed = {}
    if not parsed:
        detail = (proc.stderr or proc.stdout).strip()[-3000:]
        msg = f"The serialization process failed (exit {proc.returncode}):\n{detail}"
        raise SerializationError(msg)
    return parsed
