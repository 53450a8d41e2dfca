"""Run ids and records shared by the server tests (a uniquely named module, not conftest)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from flyte_jupyter.launch.model import RunRecord

if TYPE_CHECKING:
    from pathlib import Path

EVIL = "<script>alert('x')</script>"
RUN_OK = "fsucceeded0000000001"
RUN_LIVE = "frunning000000000002"
RUN_EVIL = "ffailed0000000000003"
RUN_REMOTE = "fremote0000000000004"


def make_record(home: Path, run_id: str, **changes) -> RunRecord:
    run_dir = home / "runs" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    now = time.time()
    values = {
        "id": run_id,
        "backend": "local",
        "entity": "square",
        "flyte_name": "nb_demo.square",
        "kind": "task",
        "project": "flytesnacks",
        "domain": "development",
        "version": "v0123456789abcdef",
        "status": "SUCCEEDED",
        "created_at": now,
        "updated_at": now,
        "url": f"/flyte-jupyter/runs/{run_id}",
        "notebook": "/work/demo.ipynb",
        "bundle_digest": "ab" * 32,
        "bundle_uri": "file:///tmp/store/fast" + "ab" * 32 + ".tar.gz",
        "inputs": {"x": "7"},
        "outputs": {"o0": "49"},
        "run_dir": str(run_dir),
        "log_path": str(run_dir / "run.log"),
    }
    values.update(changes)
    return RunRecord(**values)
