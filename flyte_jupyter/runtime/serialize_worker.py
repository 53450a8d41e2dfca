"""Serialize entities of a bundle's generated module with flytekit, in a fresh interpreter.

Usage: ``python -I -m flyte_jupyter.runtime.serialize_worker REQUEST.json``. The request names
the extracted bundle folder (or None when the code is installed, copy style ``none``), the
``[name, module]`` of each entity, flytekit ``SerializationSettings`` as JSON, and the output
folder. The entities are imported from the bundle (serialize what you
ship) and written with flytekit's own ``get_serializable`` and ``persist_registrable_entities``,
exactly like ``pyflyte package``. A JSON summary is the last line of stdout.
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


def main() -> None:
    """Entry point: read the request, print the JSON result as the last line."""
    request = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    try:
        result = serialize(request)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises
        import traceback

        result = {
            "ok": False,
            "type": type(exc).__name__,
            "message": str(exc),
            "traceback": traceback.format_exc(limit=8),
        }
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
