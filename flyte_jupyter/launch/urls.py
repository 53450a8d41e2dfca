"""Links to run pages: ``<server base URL>flyte-jupyter/runs/<id>``.

How the kernel learns the server's URL, in order:

1. the ``server_url`` setting (``FLYTE_JUPYTER_SERVER_URL``, ``%config``, pyproject), for
   proxies and hubs where the browser's URL differs from the server's own;
2. the Jupyter server that started this kernel: each running server writes
   ``jpserver-<pid>.json`` (with its ``url``, which includes ``base_url``) to the Jupyter
   runtime folder, and a kernel's parent process is its server;
3. the only running server, if there is exactly one;
4. otherwise a server-relative link, ``/flyte-jupyter/runs/<id>``, which works from any
   JupyterLab served at the root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flyte_jupyter._os import pid_alive

RUNS_PATH = "flyte-jupyter/runs/"


def run_url(server_url: str | None, run_id: str) -> str:
    """The URL of the run page of ``run_id``."""
    base = server_url or _server_of_this_kernel()
    if base is None:
        return f"/{RUNS_PATH}{run_id}"
    return f"{base.rstrip('/')}/{RUNS_PATH}{run_id}"


def _server_of_this_kernel() -> str | None:
    servers = _running_servers()
    parent = os.getppid()
    for info in servers:
        if info.get("pid") == parent:
            return str(info["url"])
    return str(servers[0]["url"]) if len(servers) == 1 else None


def _running_servers() -> list[dict[str, object]]:
    from jupyter_core.paths import jupyter_runtime_dir

    out = []
    for path in sorted(Path(jupyter_runtime_dir()).glob("jpserver-*.json")):
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        pid = info.get("pid")
        if isinstance(pid, int) and pid_alive(pid) and info.get("url"):
            out.append(info)
    return out
