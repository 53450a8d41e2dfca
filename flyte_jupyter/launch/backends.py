"""The launch backends, by the ``backend`` setting, and run ids.

Launchers are imported on first use (the remote one needs flytekit's admin client); a missing
package is a :class:`~flyte_jupyter.errors.LaunchError` with the install hint. The Jupyter
server uses this to cancel runs; the application layer (:mod:`flyte_jupyter.submit`) to start
them.
"""

from __future__ import annotations

import importlib
import secrets
import string
from types import MappingProxyType
from typing import TYPE_CHECKING

from flyte_jupyter.errors import LaunchError

if TYPE_CHECKING:
    from flyte_jupyter.launch.model import Launcher
    from flyte_jupyter.settings import Settings

# backend -> (module:class, install hint); imported on first use
_LAUNCHERS = {
    "local": ("flyte_jupyter.launch.local:LocalLauncher", ""),
    "remote": ("flyte_jupyter.launch.remote:RemoteLauncher", "pip install flytekit"),
}
LAUNCHERS = MappingProxyType(_LAUNCHERS)
# a cluster speaks one SDK's protocol: flyte v2 runs go to a v2 control plane (Connect RPC)
_SDK_LAUNCHERS = {
    ("remote", "flyte"): ("flyte_jupyter.launch.remote_v2:RemoteV2Launcher", "pip install flyte"),
}
_ALPHABET = string.ascii_lowercase + string.digits


def new_run_id() -> str:
    """A fresh run id: 'f' + 19 lowercase letters/digits, a valid Flyte execution name."""
    return "f" + "".join(secrets.choice(_ALPHABET) for _ in range(19))


def launcher_target(backend: str, sdk: str = "flytekit") -> tuple[str, str] | None:
    """``(module:class, install hint)`` of the launcher of ``backend`` for ``sdk``'s runs."""
    return _SDK_LAUNCHERS.get((backend, sdk)) or _LAUNCHERS.get(backend)


def launcher_for(settings: Settings, sdk: str = "flytekit") -> Launcher:
    """The backend the settings name, for runs of ``sdk`` (imported on first use).

    The local backend runs both SDKs; the remote one is flytekit's admin (gRPC) for flytekit
    entities and a flyte v2 control plane (Connect RPC) for v2 tasks.
    """
    found = launcher_target(settings.backend, sdk)
    if found is None:  # pragma: no cover - settings validate the backend
        msg = f"Unknown backend {settings.backend!r}."
        raise LaunchError(msg)
    target, hint = found
    module_name, _, class_name = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except ImportError as exc:
        msg = f"The {settings.backend} backend needs a package that is missing ({exc}). {hint}"
        raise LaunchError(msg) from exc
    launcher: Launcher = cls.from_settings(settings)
    return launcher
