"""Check launch inputs against an entity's interface and turn them into a flyteidl LiteralMap."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyte_jupyter.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Mapping

MAX_SHOWN = 120


def signature(name: str, entity: Any) -> str:
    """``square(x: int, y: str = ...)`` for messages."""
    interface = entity.python_interface
    defaults = interface.default_inputs_as_kwargs
    parts = []
    for arg, python_type in interface.inputs.items():
        text = f"{arg}: {getattr(python_type, '__name__', python_type)}"
        parts.append(text + (" = ..." if arg in defaults else ""))
    return f"{name}({', '.join(parts)})"


def check_inputs(name: str, entity: Any, inputs: Mapping[str, Any]) -> tuple[bytes, dict[str, str]]:
    """Serialized ``LiteralMap`` of the inputs and their short display.

    Raises
    ------
    InputError
        An input is missing, unexpected, or of a type the interface does not accept; the
        message shows the signature.
    """
    from flytekit.core.context_manager import FlyteContextManager
    from flytekit.core.type_engine import TypeEngine
    from flytekit.models.literals import LiteralMap

    interface = entity.python_interface
    expected = interface.inputs
    defaults = interface.default_inputs_as_kwargs
    missing = [arg for arg in expected if arg not in inputs and arg not in defaults]
    unexpected = [arg for arg in inputs if arg not in expected]
    if missing or unexpected:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if unexpected:
            problems.append(f"unexpected {', '.join(unexpected)}")
        msg = f"{'; '.join(problems)}. Call it as {signature(name, entity)}, inputs by name."
        raise InputError(msg)
    ctx = FlyteContextManager.current_context()
    literals = {}
    shown = {}
    for arg, python_type in expected.items():
        value = inputs[arg] if arg in inputs else defaults[arg]
        try:
            literal_type = TypeEngine.to_literal_type(python_type)
            literals[arg] = TypeEngine.to_literal(ctx, value, python_type, literal_type)
        except Exception as exc:
            type_name = getattr(python_type, "__name__", str(python_type))
            msg = (
                f"input {arg!r} of {name} must be {type_name}, got {type(value).__name__} "
                f"{_short(value)}: {exc}. Call it as {signature(name, entity)}."
            )
            raise InputError(msg) from exc
        shown[arg] = _short(value)
    return LiteralMap(literals=literals).to_flyte_idl().SerializeToString(), shown


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"
