"""Links to run pages: ``<server base URL>flyte-jupyter/runs/<id>``.

A link must work from where the user's browser is, and the kernel cannot see that: a server
at ``--ip=127.0.0.1`` names itself ``localhost`` in its ``jpserver-<pid>.json`` while the
browser may use ``127.0.0.1`` (a different origin, without the login cookie), a proxy or a hub
serves it under another host entirely. So, in order:

1. the ``server_url`` setting (``FLYTE_JUPYTER_SERVER_URL``, ``%config``, pyproject), for
   proxies and hubs where the user wants a full link of their choice;
2. a kernel started by a Jupyter server (its parent process wrote ``jpserver-<pid>.json`` to
   the Jupyter runtime folder) shows its output in that server's pages: a *server-relative*
   link, ``<base_url>flyte-jupyter/runs/<id>``, works from whatever host, port or proxy the
   browser reached the server through;
3. a kernel of no server (nbclient, papermill, a console) and exactly one running server: that
   server's public URL, which is its ``custom_display_url`` when the flyte_jupyter server
   extension published one (``flyte_jupyter-<pid>.json`` beside the server's file), else the
   URL it wrote;
4. otherwise a server-relative link, ``/flyte-jupyter/runs/<id>``, which works from any
   JupyterLab served at the root.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from flyte_jupyter._os import pid_alive

RUNS_PATH = "flyte-jupyter/runs/"
# What the server extension writes beside jpserver-<pid>.json (see server/app.py).
PUBLIC_INFO = "flyte_jupyter-{pid}.json"


def run_url(server_url: str | None, run_id: str) -> str:
    """The URL of the run page of ``run_id`` (see the module docstring for which one)."""
    base = server_url or _server_of_this_kernel()
    if base is None:
        return f"/{RUNS_PATH}{run_id}"
    return f"{base.rstrip('/')}/{RUNS_PATH}{run_id}"


def public_url(display_url: str, base_url: str, fallback: str) -> str:
    """The URL people reach a server at: ``display_url``'s parts over ``fallback``'s.

    As jupyter_server's ``ServerApp.public_url`` does with ``custom_display_url``: the parts
    ``display_url`` gives (scheme, host, path) replace the server's own; without a path, the
    server's ``base_url`` stays. No token is added (a link must not carry a secret).
    """
    own = urlsplit(fallback)
    custom = urlsplit(display_url)
    return urlunsplit(
        (
            custom.scheme or own.scheme,
            custom.netloc or own.netloc,
            custom.path or base_url or own.path or "/",
            "",
            "",
        )
    )


def _server_of_this_kernel() -> str | None:
    servers = _running_servers()
    parent = os.getppid()
    for info in servers:
        if info.get("pid") == parent:
            # the browser shows this kernel's outputs through this server: relative works
            return "/" + str(info.get("base_url") or "/").strip("/")
    return _public(servers[0]) if len(servers) == 1 else None


def parent_server_root() -> str | None:
    """The ``root_dir`` of the Jupyter server that started this kernel, if one did."""
    parent = os.getppid()
    for info in _running_servers():
        if info.get("pid") == parent and isinstance(info.get("root_dir"), str):
            return str(info["root_dir"])
    return None


def _public(info: dict[str, object]) -> str:
    path = Path(str(info["_runtime_dir"])) / PUBLIC_INFO.format(pid=info["pid"])
    try:
        published = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        published = {}
    url = published.get("public_url") if isinstance(published, dict) else None
    return str(url) if isinstance(url, str) and url else str(info["url"])


def _running_servers() -> list[dict[str, object]]:
    from jupyter_core.paths import jupyter_runtime_dir

    runtime = Path(jupyter_runtime_dir())
    out = []
    for path in sorted(runtime.glob("jpserver-*.json")):
        try:
            info = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        pid = info.get("pid")
        if isinstance(pid, int) and pid_alive(pid) and info.get("url"):
            out.append(info | {"_runtime_dir": str(runtime)})
    return out
