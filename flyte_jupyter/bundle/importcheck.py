"""The self-check's job: import the generated module as a run will, report what it found.

Runs in a clean interpreter: a child of the warm worker, or ``python -I -m
flyte_jupyter.bundle.importcheck REQUEST`` (its JSON result is the last line of stdout). Only
the extracted bundle (``root``, the current folder) and the environment's packages are on the
path; nothing of the notebook's memory. Nothing of flyte_jupyter beyond this module is imported
before the generated module is.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any


def check(request: dict[str, Any]) -> dict[str, Any]:
    """Import ``request["module"]`` from ``request["root"]``; the kinds of its targets.

    ``request``: ``root``, ``module``, ``targets`` (names), ``context`` (``[project,
    domain]`` of the run, or None).
    """
    root, module = request["root"], request["module"]
    sys.path.insert(0, root)
    try:
        mod = _load(root, module, request.get("context"))
    except BaseException as exc:  # noqa: BLE001 - every failure of an import is the verdict
        frames: list[tuple[str | None, int | None]] = [
            (f.filename, f.lineno) for f in traceback.extract_tb(exc.__traceback__)
        ]
        if isinstance(exc, SyntaxError):
            frames.append((exc.filename, exc.lineno))
        return {
            "ok": False,
            "type": type(exc).__name__,
            "message": str(exc),
            "frames": frames,
            "name": getattr(exc, "name", None),
        }
    # the SDK seam recognises entities of whichever SDK the module imported (none: None)
    from flyte_jupyter.sdk import find_sdk

    kinds = {}
    for name in request["targets"]:
        obj = getattr(mod, name, None)
        sdk = find_sdk(obj)
        kind = None if sdk is None else sdk.kind(obj)
        kinds[name] = [kind, None if sdk is None else sdk.flyte_name(obj, module)]
    return {"ok": True, "kinds": kinds}


def _load(root: str, module: str, context: list[str] | None) -> Any:
    try:
        return __import__(module)
    except Exception as exc:
        # flyte v2's a0 calls flyte.init before it imports a task's module, so module-level
        # flyte.current_domain() works in a run: do the same, then import it afresh
        if type(exc).__name__ != "InitializationError" or "flyte" not in sys.modules:
            raise
        if not context:
            raise
    import flyte

    flyte.init(root_dir=root, project=context[0], domain=context[1])
    here = os.path.join(root, "")
    for name, loaded in list(sys.modules.items()):
        if (getattr(loaded, "__file__", None) or "").startswith(here):
            del sys.modules[name]
    return __import__(module)


def main() -> None:
    """``python -I -m flyte_jupyter.bundle.importcheck REQUEST_JSON``."""
    result = check(json.loads(sys.argv[1]))
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
