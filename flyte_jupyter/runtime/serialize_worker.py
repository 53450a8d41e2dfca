"""Serialize entities of a bundle's generated module with their SDK, in a fresh interpreter.

Usage: ``python -I -m flyte_jupyter.runtime.serialize_worker REQUEST.json``. The request names
the extracted bundle folder (or None when the code is installed, copy style ``none``), the
``[name, module]`` of each entity, the SDK (``flytekit``, the default, or ``flyte``), its
settings as JSON, and the output folder. The entities are imported from the bundle (serialize
what you ship). flytekit's are written with its own ``get_serializable`` and
``persist_registrable_entities``, exactly like ``pyflyte package``; flyte v2's with
``translate_task_to_wire`` after ``flyte.init`` with the settings' image refs, as
``<index>_<env>.<function>_1.pb``. A JSON summary is the last line of stdout.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any


def serialize(request: dict[str, Any]) -> dict[str, Any]:
    """Serialize the requested entities; return what was written."""
    if request.get("sdk") == "flyte":
        return serialize_v2(request)
    from flytekit.configuration import SerializationSettings
    from flytekit.core import context_manager
    from flytekit.core.launch_plan import LaunchPlan
    from flytekit.core.workflow import WorkflowBase
    from flytekit.tools.serialize_helpers import (
        _should_register_with_admin,
        persist_registrable_entities,
    )
    from flytekit.tools.translator import get_serializable

    if request["root"]:
        sys.path.insert(0, request["root"])
    settings = SerializationSettings.from_json(request["settings"])
    out = Path(request["out"])
    out.mkdir(parents=True, exist_ok=True)
    mapping: OrderedDict[Any, Any] = OrderedDict()
    names = {}
    base = context_manager.FlyteContextManager.current_context()
    with context_manager.FlyteContextManager.with_context(
        base.with_serialization_settings(settings)
    ) as ctx:
        for name, module in request["targets"]:
            entity = getattr(importlib.import_module(module), name)
            names[name] = entity.name
            get_serializable(mapping, settings, entity)
            if isinstance(entity, WorkflowBase):
                launch_plan = LaunchPlan.get_default_launch_plan(ctx, entity)
                get_serializable(mapping, settings, launch_plan)
    models = [m for m in mapping.values() if _should_register_with_admin(m)]
    with contextlib.redirect_stdout(io.StringIO()):  # flytekit echoes each file it writes
        persist_registrable_entities(models, str(out))
    return {"ok": True, "names": names, "files": sorted(p.name for p in out.glob("*.pb"))}


def serialize_v2(request: dict[str, Any]) -> dict[str, Any]:
    """Serialize flyte v2 tasks to flyteidl2 ``TaskSpec`` files (the twin of ``serialize``).

    The settings JSON holds ``version``, ``project``, ``domain``, ``images`` (ref name to URI,
    as ``flyte.init(images=...)`` takes them) and ``bundle_uri`` (None: the code is in the
    image). Images come from the refs only: nothing is built.
    """
    import flyte
    from flyte._deploy import build_images
    from flyte._internal.runtime.task_serde import translate_task_to_wire
    from flyte.models import CodeBundle, SerializationContext

    from flyte_jupyter.sdk import find_sdk
    from flyte_jupyter.sdk.flyte import ORG, resolve

    settings = json.loads(request["settings"])
    root = request["root"]
    if root:
        sys.path.insert(0, root)
    # before the module is imported: its top level may call flyte.current_domain()
    flyte.init(
        root_dir=Path(root or Path.cwd()),
        images=settings["images"],
        project=settings["project"],
        domain=settings["domain"],
    )
    bundle_uri, version = settings["bundle_uri"], settings["version"]
    code_bundle = None
    if bundle_uri is not None:
        code_bundle = CodeBundle(tgz=bundle_uri, destination=".", computed_version=version)
    out = Path(request["out"])
    out.mkdir(parents=True, exist_ok=True)
    names = {}
    for index, (name, module) in enumerate(request["targets"]):
        task = getattr(importlib.import_module(module), name)
        sdk = find_sdk(task)
        if sdk is None or sdk.name != "flyte":
            msg = f"{module}.{name} is a {type(task).__name__}, not a flyte v2 task (@env.task)."
            raise TypeError(msg)
        with contextlib.redirect_stdout(sys.stderr):  # flyte reports image "builds" on stdout
            image_cache = resolve(build_images(task.parent_env()))
        context = SerializationContext(
            version=version,
            project=settings["project"],
            domain=settings["domain"],
            org=settings.get("org") or ORG,
            code_bundle=code_bundle,
            image_cache=image_cache,
            root_dir=Path(root) if root else None,
        )
        spec = resolve(translate_task_to_wire(task, context))
        names[name] = task.name
        (out / f"{index}_{task.name}_1.pb").write_bytes(spec.SerializeToString())
    return {"ok": True, "names": names, "files": sorted(p.name for p in out.glob("*.pb"))}


def main() -> None:
    """Entry point: read the request, print the JSON result as the last line."""
    request = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    try:
        result = serialize(request)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
        from flyte_jupyter.worker.child import failure

        result = failure(exc)
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
