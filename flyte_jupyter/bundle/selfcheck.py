"""Import the generated module from the extracted bundle in a clean interpreter.

A child of the warm worker (:mod:`flyte_jupyter.worker`), else a fresh ``python -I``: this is
how the run will import it: only the bundle's files and the environment's packages on
the path, nothing of the notebook's memory. A syntax error, an undefined name or a local module
that did not make it into the bundle is reported here, naming the cell, before any byte is
uploaded. A passing check is remembered by digest, so an unchanged bundle is not checked again.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flyte_jupyter.bundle.untar import ArchiveFormatError, extract_archive, scratch_parent
from flyte_jupyter.errors import BundleError, SelfCheckError
from flyte_jupyter.worker import POOL

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from flyte_jupyter.bundle.model import Bundle
    from flyte_jupyter.capture.model import CapturedModule

TIMEOUT = 300
_JOB = "flyte_jupyter.bundle.importcheck"


def self_check(
    bundle: Bundle,
    module: CapturedModule,
    *,
    cache_dir: Path,
    loaded_modules: Mapping[str, str],
    environ: Mapping[str, str] | None = None,
    context: tuple[str, str] | None = None,
) -> None:
    """Raise :class:`SelfCheckError` unless ``module`` imports from ``bundle`` alone.

    ``environ`` is the environment the run will start from (None: this process's).
    ``context`` is the run's ``(project, domain)``: flyte v2's entrypoint initialises flyte
    with them before it imports the module, and so does the check when the module needs it.

    Raises
    ------
    SelfCheckError
        The module does not import, or a target is not a task or workflow.
    BundleError
        The archive cannot be extracted (damaged since it was written; it is deleted).
    """
    env_key: object = sorted((environ or {}).items()) if environ is not None else None
    if context is not None:
        env_key = [env_key, list(context)]
    marker = _marker(cache_dir, bundle.digest, module.entities, env_key)
    if marker.exists():
        return
    size = sum(entry.size for entry in bundle.entries)
    parent = scratch_parent(len(bundle.entries), size)  # a tmpfs when the tree fits there
    with tempfile.TemporaryDirectory(prefix="fj-check-", dir=parent) as tmp:
        _extract(bundle.path, Path(tmp))
        result = _run(Path(tmp), module.name, module.entities, environ, context)
    if not result.get("ok"):
        raise SelfCheckError(_message(result, module, bundle, loaded_modules))
    for name, (kind, _) in result["kinds"].items():
        if kind is None:
            msg = (
                f"{name!r} is not a Flyte task or workflow in the generated module "
                f"{module.name}. Pass the name of an @task or @workflow."
            )
            raise SelfCheckError(msg)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(result["kinds"], sort_keys=True))


def _extract(archive: Path, dest: Path) -> None:
    """Extract the archive as the run will; a damaged one is deleted and named in the error.

    :func:`~flyte_jupyter.bundle.untar.extract_archive` puts the files on disk as
    ``tarfile.extractall(filter="data")`` does, in a fraction of its time, and refuses any
    archive this project would not write.
    """
    try:
        extract_archive(archive, dest)
    except (ArchiveFormatError, OSError, zlib.error) as exc:
        archive.unlink(missing_ok=True)  # a cache entry: the next bundle writes it again
        msg = (
            f"The bundle archive {archive} cannot be extracted ({type(exc).__name__}: {exc}); "
            "it was damaged after it was written. It was deleted and nothing was uploaded: "
            "run again to rebuild it."
        )
        raise BundleError(msg) from exc


def _marker(cache_dir: Path, digest: str, entities: Sequence[str], env: object) -> Path:
    key = hashlib.sha256(json.dumps([digest, sorted(entities), env]).encode()).hexdigest()[:32]
    return cache_dir / "checked" / key


def _run(
    root: Path,
    module: str,
    targets: Sequence[str],
    environ: Mapping[str, str] | None,
    context: tuple[str, str] | None,
) -> dict[str, Any]:
    """The check's result, from a child of the warm worker, else a fresh ``python -I``."""
    request = {
        "root": str(root),
        "module": module,
        "targets": list(targets),
        "context": list(context) if context else None,
    }
    base = os.environ if environ is None else environ
    # flyte v2 reports to Sentry unless told not to (the module may import it): off, unless
    # the user's own environment turned it on
    env = {"DO_NOT_TRACK": "1", **base}
    try:
        job = POOL.call(f"{_JOB}:check", request, env=env, base_env=base, cwd=root, timeout=TIMEOUT)
        if job is None:
            return _run_cold(root, request, env)
    except (TimeoutError, subprocess.TimeoutExpired) as exc:
        msg = (
            f"Importing the generated module {module} took over {TIMEOUT} s in a fresh "
            "interpreter. Move slow work out of module level (into the task body)."
        )
        raise SelfCheckError(msg) from exc
    if job.result is None:
        raise SelfCheckError(_crashed(module, job.output))
    return job.result


def _run_cold(root: Path, request: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    cmd = [sys.executable, "-I", "-m", _JOB, json.dumps(request)]
    proc = subprocess.run(  # noqa: PLW1510 - the exit code is read from the JSON line
        cmd, capture_output=True, text=True, timeout=TIMEOUT, cwd=root, env=env
    )
    last = proc.stdout.strip().rsplit("\n", 1)[-1] if proc.stdout.strip() else ""
    try:
        parsed: dict[str, Any] = json.loads(last)
    except json.JSONDecodeError:
        raise SelfCheckError(_crashed(request["module"], proc.stderr or proc.stdout)) from None
    return parsed


def _crashed(module: str, output: str) -> str:
    detail = output.strip()[-2000:]
    return f"The generated module {module} crashed the interpreter on import:\n{detail}"


def _message(
    result: Mapping[str, Any],
    module: CapturedModule,
    bundle: Bundle,
    loaded_modules: Mapping[str, str],
) -> str:
    error = f"{result['type']}: {result['message']}"
    where = ""
    for filename, line in reversed(result.get("frames", [])):
        if filename and Path(filename).name == module.filename and line:
            where = f" ({module.origin(int(line))})"
            break
    hint = "Fix the cell, run it, and try again."
    missing = result.get("name")
    if result["type"] == "ModuleNotFoundError" and missing:
        top = str(missing)
        file = loaded_modules.get(top) or loaded_modules.get(top.split(".", maxsplit=1)[0])
        if file:
            hint = (
                f"The kernel loads {top!r} from {file}, which is outside the bundle root "
                f"{bundle.root}. Pass --root-dir with a folder that contains it, or install "
                "it in the image."
            )
        else:
            hint = f"Install {top!r} in this environment and in the image, or import it lazily."
    return (
        f"The code generated from the notebook ({module.name}) does not import in a fresh "
        f"interpreter: {error}{where}. Nothing was uploaded. {hint}"
    )
