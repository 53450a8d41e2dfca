"""Check launch inputs against an entity's interface and turn them into a flyteidl LiteralMap."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyte_jupyter.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Mapping

MAX_SHOWN = 120
# protobuf refuses to serialize a message of 2 GiB or more; inputs are one LiteralMap message.
MAX_INPUTS_BYTES = 2**31 - 1
_INT64 = (-(2**63), 2**63 - 1)


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
        An input is missing, unexpected, or of a type the interface does not accept, does
        not fit its Flyte type (an ``int`` beyond 64 bits), or the inputs together are over
        protobuf's 2 GiB limit; the message shows the signature.
    """
    from flyteidl.core import literals_pb2
    from flytekit.core.context_manager import FlyteContextManager
    from flytekit.core.type_engine import TypeEngine

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
        type_name = getattr(python_type, "__name__", str(python_type))
        if isinstance(value, int) and not isinstance(value, bool) and python_type is int:
            _check_int64(name, entity, arg, value)
        try:
            literal_type = TypeEngine.to_literal_type(python_type)
            literal = TypeEngine.to_literal(ctx, value, python_type, literal_type)
            # the protobuf form fails on values the Python form accepted (a nested big int)
            literals[arg] = literal.to_flyte_idl()
        except Exception as exc:
            msg = (
                f"input {arg!r} of {name} must be {type_name}, got {type(value).__name__} "
                f"{_short(value)}: {exc}. Call it as {signature(name, entity)}."
            )
            raise InputError(msg) from exc
        shown[arg] = _short(value)
    message = literals_pb2.LiteralMap(literals=literals)
    _check_size(name, message)
    return message.SerializeToString(), shown


def _check_int64(name: str, entity: Any, arg: str, value: int) -> None:
    low, high = _INT64
    if not low <= value <= high:
        msg = (
            f"input {arg!r} of {name} is {_short(value)}, outside Flyte's integer range "
            "(64-bit signed: -2**63 to 2**63 - 1). Pass a smaller number, or declare the "
            f"input as float or str. Call it as {signature(name, entity)}."
        )
        raise InputError(msg)


def _check_size(name: str, message: Any) -> None:
    """Refuse inputs protobuf cannot serialize, before it tries (its size is cheap to ask)."""
    total = message.ByteSize()
    if total <= MAX_INPUTS_BYTES:
        return
    sizes = sorted(((lit.ByteSize(), arg) for arg, lit in message.literals.items()), reverse=True)
    largest = ", ".join(f"{arg} ({_gib(size)})" for size, arg in sizes[:3])
    msg = (
        f"The inputs of {name} are {_gib(total)} as a Flyte literal map, over protobuf's "
        f"limit of {_gib(MAX_INPUTS_BYTES)} for one message (largest: {largest}). Pass large "
        "data by reference: write it to a file and pass a FlyteFile or FlyteDirectory, or a "
        "StructuredDataset for tables."
    )
    raise InputError(msg)


def _gib(size: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"
