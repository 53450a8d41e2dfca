"""Which Flyte SDK an object belongs to, without importing an SDK that is not imported yet.

A plug-in registry (a private dict, a read-only public view): each entry names the module and
class implementing :class:`~flyte_jupyter.sdk.base.FlyteSdk`, the package whose objects it
recognises, and what a user who has none of its entities should do. An implementation is
imported on first use, and only once its package is in ``sys.modules``: an object cannot be a
flytekit task if flytekit was never imported, so ``%load_ext`` and plain code stay light, and
a notebook that uses one SDK works where only that one is installed.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from types import MappingProxyType
from typing import TYPE_CHECKING, NamedTuple

from flyte_jupyter.errors import TargetError

if TYPE_CHECKING:
    from flyte_jupyter.sdk.base import EntityKind, FlyteSdk


class SdkEntry(NamedTuple):
    """One SDK: its implementation, the package it recognises, and how to use it."""

    implementation: str  # "module:Class"
    package: str  # the top-level package its entities come from
    define: str  # how an entity is made
    install: str  # the install hint
    warm: tuple[str, ...] = ()  # what the warm worker imports once: the SDK, its entrypoints


_SDKS: dict[str, SdkEntry] = {
    "flytekit": SdkEntry(
        "flyte_jupyter.sdk.flytekit:FlytekitSdk",
        "flytekit",
        "@task or @workflow (from flytekit import task, workflow)",
        "pip install flytekit",
        ("flytekit", "flytekit.bin.entrypoint", "flyte_jupyter.sdk.flytekit"),
    ),
    "flyte": SdkEntry(
        "flyte_jupyter.sdk.flyte:FlyteV2Sdk",
        "flyte",
        "@env.task (flyte.TaskEnvironment)",
        "pip install flyte",
        ("flyte", "flyte._bin.runtime", "flyte_jupyter.sdk.flyte"),
    ),
}
SDKS = MappingProxyType(_SDKS)
_loaded: dict[str, FlyteSdk] = {}


def load_sdk(name: str) -> FlyteSdk:
    """The implementation of SDK ``name`` (imported on first use).

    Raises
    ------
    TargetError
        Its implementation cannot be imported (the SDK or a package it needs is missing).
    """
    if name not in _loaded:
        entry = _SDKS[name]
        module_name, _, class_name = entry.implementation.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except ImportError as exc:
            msg = f"The {name} SDK needs a package that is missing ({exc}). {entry.install}"
            raise TargetError(msg) from exc
        _loaded[name] = cls()
    return _loaded[name]


def imported_sdks() -> list[FlyteSdk]:
    """The SDKs whose package this process imported (those whose implementation loads)."""
    found = []
    for name, entry in _SDKS.items():
        if sys.modules.get(entry.package) is not None:
            with contextlib.suppress(TargetError):
                found.append(load_sdk(name))
    return found


def find_sdk(obj: object) -> FlyteSdk | None:
    """The SDK ``obj`` is an entity of, or None (only imported SDKs are asked)."""
    for name, entry in _SDKS.items():
        if sys.modules.get(entry.package) is None:
            continue  # never imported (or blocked): nothing can be one of its entities
        sdk = load_sdk(name)
        if sdk.owns(obj):
            return sdk
    return None


def entity_kind(obj: object) -> EntityKind | None:
    """``"task"``, ``"workflow"``, ``"launch plan"`` of whichever SDK owns ``obj``, else None."""
    sdk = find_sdk(obj)
    return None if sdk is None else sdk.kind(obj)


def sdk_for(obj: object, name: str | None = None) -> FlyteSdk:
    """The SDK ``obj`` belongs to.

    Raises
    ------
    TargetError
        No SDK owns it: the message says what to decorate it with (``name`` is how the user
        named it), and how to install an SDK that is missing.
    """
    sdk = find_sdk(obj)
    if sdk is not None:
        return sdk
    label = repr(name) if name else "The object"
    raise TargetError(f"{label} {not_an_entity(obj)}")


def undefined(name: str) -> str:
    """The message for a target ``name`` the kernel does not define, with what to do.

    When the kernel's last error was importing an SDK that is not installed (``import flyte``
    where only flytekit is), the defining cell failed on that import: the message says so and
    how to install it, since running the cell again would fail the same way.
    """
    msg = f"{name!r} is not defined in this kernel. Run the cell that defines it."
    error = getattr(sys, "last_value", None)  # set by the shell for a cell's uncaught error
    if not isinstance(error, ImportError) or not error.name:
        return msg
    package = error.name.partition(".")[0]
    for entry in _SDKS.values():
        if entry.package == package and importlib.util.find_spec(package) is None:
            return (
                f"{msg} The last cell that failed could not import {package}: it is not "
                f"installed in this kernel's Python ({sys.executable}). {entry.install}, "
                "restart the kernel and run the cells again."
            )
    return msg


def not_an_entity(obj: object) -> str:
    """``is a function, not a Flyte task or workflow: decorate it ...`` (with install hints)."""
    ways = []
    for entry in _SDKS.values():
        way = entry.define
        if importlib.util.find_spec(entry.package) is None:  # locates; imports nothing
            way += f" after installing it ({entry.install})"
        ways.append(way)
    return (
        f"is a {type(obj).__name__}, not a Flyte task or workflow: decorate it with "
        f"{' or '.join(ways)}."
    )
