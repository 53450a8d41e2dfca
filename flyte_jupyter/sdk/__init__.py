"""The Flyte SDK an entity belongs to, behind one interface (flytekit and flyte v2).

Recognising an entity and its kind and Flyte name, its interface and input checking, its
images, reading a run's outputs and error, and the command that runs it on this machine go
through :func:`sdk_for` (or :func:`load_sdk` by name); nothing here imports an SDK that the
notebook did not import. Contract: no IPython, ipywidgets or tornado; no SDK at import.
"""

from flyte_jupyter.sdk.base import EntityKind, FlyteSdk, Interface, LocalRun
from flyte_jupyter.sdk.registry import (
    SDKS,
    SdkEntry,
    entity_kind,
    find_sdk,
    imported_sdks,
    load_sdk,
    not_an_entity,
    sdk_for,
    undefined,
)

__all__ = [
    "SDKS",
    "EntityKind",
    "FlyteSdk",
    "Interface",
    "LocalRun",
    "SdkEntry",
    "entity_kind",
    "find_sdk",
    "imported_sdks",
    "load_sdk",
    "not_an_entity",
    "sdk_for",
    "undefined",
]
