"""Package attributes imported on first use (PEP 562), for light package imports."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, MutableMapping


def lazy_exports(
    namespace: MutableMapping[str, Any], sources: Mapping[str, str]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``name`` from ``sources[name]`` when first used."""

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's required name
        if name in sources:
            value = getattr(importlib.import_module(sources[name]), name)
            namespace[name] = value  # next time a plain attribute, no hook
            return value
        msg = f"module {namespace['__name__']!r} has no attribute {name!r}"
        raise AttributeError(msg)

    return __getattr__
