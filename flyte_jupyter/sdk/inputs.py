"""What every SDK's input checking shares: the signature, the short display, the limits.

The SDK-specific part (turning values into literals) is each :class:`~flyte_jupyter.sdk.base.
FlyteSdk`'s ``check_inputs``; the messages and limits here keep the errors the same for all.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import TYPE_CHECKING, Any

from flyte_jupyter.errors import InputError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from flyte_jupyter.sdk.base import Interface

MAX_SHOWN = 120
# protobuf refuses to serialize a message of 2 GiB or more; the inputs are one message.
MAX_INPUTS_BYTES = 2**31 - 1
INT64 = (-(2**63), 2**63 - 1)


# a dotted prefix of a name inside a type's text: "typing.", "__main__.", "f.<locals>."
_QUALIFIER = re.compile(r"(?<![\w.<>])(?:[A-Za-z_<][\w<>]*\.)+(?=[A-Za-z_])")


def type_name(python_type: Any) -> str:
    """``int``, ``Point``, ``List[float]``, ``dict[str, Point]``: a declared type in a message.

    Parametrised types keep their parameters (``List[float]``, not ``List``); names lose their
    module (``typing.``, ``__main__.``), as the user wrote them.
    """
    generic = typing.get_origin(python_type) is not None
    if not generic and not isinstance(python_type, types.UnionType):
        name = getattr(python_type, "__name__", None)
        if isinstance(name, str):
            return name
    return _QUALIFIER.sub("", str(python_type))


def signature(name: str, interface: Interface) -> str:
    """``square(x: int, y: str = ...)`` for messages."""
    parts = []
    for arg, python_type in interface.inputs.items():
        text = f"{arg}: {type_name(python_type)}"
        parts.append(text + (" = ..." if arg in interface.defaults else ""))
    return f"{name}({', '.join(parts)})"


def complete(name: str, interface: Interface, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Every input's value, defaults filled in, in declaration order.

    Raises
    ------
    InputError
        An input is missing or unexpected; the message shows the signature.
    """
    expected = interface.inputs
    defaults = interface.defaults
    missing = [arg for arg in expected if arg not in inputs and arg not in defaults]
    unexpected = [arg for arg in inputs if arg not in expected]
    if missing or unexpected:
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if unexpected:
            free = [arg for arg in expected if arg not in inputs]  # what a typo could mean
            named = ", ".join(_with_guess(arg, free) for arg in unexpected)
            problems.append(f"unexpected {named}")
        msg = f"{'; '.join(problems)}. Call it as {signature(name, interface)}, inputs by name."
        raise InputError(msg)
    return {arg: inputs[arg] if arg in inputs else defaults[arg] for arg in expected}


def _with_guess(arg: str, candidates: list[str]) -> str:
    """``nmae (did you mean name?)`` when an input of the entity is close to ``arg``."""
    close = difflib.get_close_matches(arg, candidates, n=1, cutoff=0.6)
    if not close:
        close = [c for c in candidates if c.lower() == arg.lower()]
    return f"{arg} (did you mean {close[0]}?)" if close else arg


def positional(name: str, interface: Interface, args: list[str]) -> str:
    """The message for a call with positional inputs: the call rewritten with input names.

    ``args`` are the positional arguments' source texts; ``greet('bob')`` gives
    ``greet(name='bob')``.
    """
    names = list(interface.inputs)
    if len(args) > len(names):
        return (
            f"{name} takes {len(names)} input{'' if len(names) == 1 else 's'}, got "
            f"{len(args)} positional. Pass inputs by name, as Flyte requires: "
            f"{signature(name, interface)}."
        )
    fixed = ", ".join(f"{arg}={text}" for arg, text in zip(names, args, strict=False))
    return (
        f"Pass inputs by name, as Flyte requires: {name}({fixed}). "
        f"Its inputs: {signature(name, interface)}."
    )


def check_int64(name: str, interface: Interface, arg: str, value: Any) -> None:
    """Refuse a top-level ``int`` input outside Flyte's 64-bit integer range."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if not is_int or interface.inputs.get(arg) is not int:
        return
    low, high = INT64
    if not low <= value <= high:
        msg = (
            f"input {arg!r} of {name} is {short(value)}, outside Flyte's integer range "
            "(64-bit signed: -2**63 to 2**63 - 1). Pass a smaller number, or declare the "
            f"input as float or str. Call it as {signature(name, interface)}."
        )
        raise InputError(msg)


def type_error(name: str, interface: Interface, arg: str, value: Any, exc: Exception) -> InputError:
    """The error for a value the SDK's type engine refused."""
    msg = (
        f"input {arg!r} of {name} must be {type_name(interface.inputs[arg])}, got "
        f"{type(value).__name__} {short(value)}: {exc}. Call it as {signature(name, interface)}."
    )
    return InputError(msg)


def check_size(name: str, total: int, sizes: Callable[[], Mapping[str, int]]) -> None:
    """Refuse inputs protobuf cannot serialize, before it tries (its size is cheap to ask).

    ``total`` is the whole message's size; ``sizes()`` gives each input's (asked only when
    over the limit).
    """
    if total <= MAX_INPUTS_BYTES:
        return
    largest = sorted(((size, arg) for arg, size in sizes().items()), reverse=True)[:3]
    named = ", ".join(f"{arg} ({gib(size)})" for size, arg in largest)
    msg = (
        f"The inputs of {name} are {gib(total)} as a Flyte literal map, over protobuf's "
        f"limit of {gib(MAX_INPUTS_BYTES)} for one message (largest: {named}). Pass large "
        "data by reference: write it to a file and pass a FlyteFile or FlyteDirectory, or a "
        "StructuredDataset for tables."
    )
    raise InputError(msg)


def gib(size: int) -> str:
    """``1.5 GiB``, ``20.0 KiB``, ``12 bytes``."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def short(value: Any) -> str:
    """``repr(value)``, cut to :data:`MAX_SHOWN` characters."""
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"
