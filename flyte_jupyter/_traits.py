"""``%config FlyteJupyter.<key>``: traitlets generated from the settings' field specs.

Every trait defaults to None (unset), so an unset trait never overrides the layers below it;
the help text of each comes from :data:`flyte_jupyter.settings.TRAIT_SPECS`.
"""

from __future__ import annotations

from typing import Any

from traitlets import Dict, Enum, Int, List, TraitType, Unicode
from traitlets.config import Configurable

from flyte_jupyter.settings import TRAIT_SPECS


def _trait(kind: str, help_text: str, choices: tuple[str, ...]) -> TraitType[Any, Any]:
    if kind == "enum":
        return Enum(list(choices), default_value=None, allow_none=True, help=help_text)
    if kind == "list":
        return List(default_value=None, allow_none=True, help=help_text)
    if kind == "dict":
        return Dict(default_value=None, allow_none=True, help=help_text)
    if kind == "int":
        return Int(default_value=None, allow_none=True, help=help_text)
    return Unicode(default_value=None, allow_none=True, help=help_text)


FlyteJupyter: type[Configurable] = type(
    "FlyteJupyter",
    (Configurable,),
    {
        "__doc__": "Settings for flyte_jupyter (``%config FlyteJupyter.<key> = value``).",
        **{
            key: _trait(spec.kind, spec.help, tuple(spec.choices)).tag(config=True)
            for key, spec in TRAIT_SPECS.items()
        },
    },
)


def trait_values(configurable: Configurable) -> dict[str, Any]:
    """The traits the user set (None = unset), for the settings' traits layer."""
    return {key: value for key in TRAIT_SPECS if (value := getattr(configurable, key)) is not None}
