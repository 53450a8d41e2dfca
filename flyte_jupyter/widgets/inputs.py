"""An inputs form generated from a task's or workflow's interface.

``int``, ``float``, ``str`` and ``bool`` get a number, text or checkbox field; every other type
gets a JSON text area, decoded into the declared type with mashumaro (which flytekit uses for
dataclasses), so ``{"x": 1, "y": 2}`` becomes ``Point(x=1, y=2)``. The interface and the check
of the values come from the entity's SDK (``flyte_jupyter.sdk``: flytekit's type engine for a
flytekit task), and each error is shown next to its field.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from flyte_jupyter.errors import InputError
from flyte_jupyter.widgets.common import STYLE, error_html, muted

if TYPE_CHECKING:
    from collections.abc import Mapping

_MISSING = object()
_INPUT_NAME = re.compile(r"input '([^']+)'")


def type_name(python_type: Any) -> str:
    """``int``, ``Point``, ``list[int]``: how a type reads in a form."""
    name = getattr(python_type, "__name__", None)
    return name if isinstance(name, str) and "[" not in repr(python_type) else repr(python_type)


def decode_json(text: str, python_type: Any) -> Any:
    """Decode JSON ``text`` into ``python_type`` (plain JSON for types mashumaro cannot build).

    Raises
    ------
    ValueError
        The text is not JSON, or it does not fit the type.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        raise ValueError(msg) from exc
    from mashumaro.codecs.json import JSONDecoder

    try:
        decoder = JSONDecoder(python_type)
    # mashumaro refuses types it cannot build (flytekit's own types); the type engine decides
    except Exception:  # noqa: BLE001
        return data
    try:
        return decoder.decode(text)
    # mashumaro raises ValueError, TypeError, LookupError subclasses and its own errors
    except Exception as exc:
        msg = f"does not fit {type_name(python_type)}: {exc}"
        raise ValueError(msg) from exc


def encode_json(value: Any, python_type: Any) -> str:
    """A default value as JSON text for the form (empty when it has no JSON form)."""
    from mashumaro.codecs.json import JSONEncoder

    try:
        return str(JSONEncoder(python_type).encode(value))
    except Exception:  # noqa: BLE001 - no JSON form: the field starts empty
        try:
            return json.dumps(value)
        except (TypeError, ValueError):
            return ""


class InputField:
    """One input: a control of the right kind, and an error line below it."""

    def __init__(self, name: str, python_type: Any, default: Any = _MISSING) -> None:
        self.name = name
        self.python_type = python_type
        self.default = default
        self.required = default is _MISSING
        label = f"{name}: {type_name(python_type)}" + ("" if self.required else " = …")
        common: dict[str, Any] = {
            "description": name,
            "tooltip": label,
            "style": STYLE,
        }
        value = None if self.required else default
        self.kind = "json"
        control: w.ValueWidget
        if python_type is bool:
            self.kind = "bool"
            control = w.Checkbox(value=bool(value), indent=True, **common)
        elif python_type is int:
            self.kind = "int"
            control = w.IntText(value=0 if value is None else value, **common)
        elif python_type is float:
            self.kind = "float"
            control = w.FloatText(value=0.0 if value is None else value, **common)
        elif python_type is str:
            self.kind = "str"
            control = w.Text(value="" if value is None else value, **common)
        else:
            control = w.Textarea(
                value="" if self.required else encode_json(default, python_type),
                placeholder=f"JSON for {type_name(python_type)}",
                rows=3,
                layout=w.Layout(width="520px"),
                **common,
            )
        self.control = control
        self.hint = w.HTML(muted(type_name(python_type) + ("" if self.required else " (default)")))
        self.error = w.HTML()
        row = w.HBox([control, self.hint], layout=w.Layout(align_items="center"))
        self.box = w.VBox([row, self.error])

    def value(self) -> Any:
        """The Python value, or ``_MISSING`` for an empty optional JSON field.

        Raises
        ------
        ValueError
            For JSON that is missing, malformed or of the wrong shape.
        """
        raw = self.control.value
        if self.kind != "json":
            return raw
        text = str(raw).strip()
        if not text:
            if self.required:
                msg = f"required: give JSON for {type_name(self.python_type)}"
                raise ValueError(msg)
            return _MISSING
        return decode_json(text, self.python_type)

    def set(self, value: Any) -> None:
        """Put a Python value into the control."""
        if self.kind == "json":
            self.control.value = encode_json(value, self.python_type)
        else:
            self.control.value = value


class InputsForm:
    """The inputs of one entity, from its SDK's interface (defaults filled in)."""

    def __init__(self, name: str, entity: Any) -> None:
        from flyte_jupyter.sdk import sdk_for

        self.name = name
        self.entity = entity
        self.sdk = sdk_for(entity, name)
        interface = self.sdk.interface(entity)
        defaults = interface.defaults
        self.fields = {
            arg: InputField(arg, python_type, defaults.get(arg, _MISSING))
            for arg, python_type in interface.inputs.items()
        }
        self.error = w.HTML()
        rows = [f.box for f in self.fields.values()] or [w.HTML(muted("No inputs."))]
        self.widget = w.VBox([*rows, self.error])

    def set(self, values: Mapping[str, Any]) -> None:
        """Fill fields from Python values (unknown names are an error)."""
        unknown = sorted(set(values) - set(self.fields))
        if unknown:
            msg = f"{self.name} has no input {', '.join(unknown)}; inputs: {', '.join(self.fields)}"
            raise InputError(msg)
        for arg, value in values.items():
            self.fields[arg].set(value)

    def values(self) -> dict[str, Any] | None:
        """The inputs, checked by the entity's SDK; None after showing the errors."""
        values: dict[str, Any] = {}
        ok = True
        for arg, field in self.fields.items():
            field.error.value = ""
            try:
                value = field.value()
            except ValueError as exc:
                field.error.value = error_html(f"{arg}: {exc}")
                ok = False
                continue
            if value is not _MISSING:
                values[arg] = value
        self.error.value = ""
        if not ok:
            return None
        try:
            self.sdk.check_inputs(self.name, self.entity, values)
        except InputError as exc:
            self.show_error(str(exc))
            return None
        return values

    def show_error(self, message: str) -> None:
        """Show an input error next to the field it names (else below the form)."""
        match = _INPUT_NAME.search(message)
        if match and match.group(1) in self.fields:
            self.fields[match.group(1)].error.value = error_html(message)
        else:
            self.error.value = error_html(message)
