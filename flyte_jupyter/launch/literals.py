"""Readable previews of flyteidl literals, for run lists and pages (no Python types needed)."""

from __future__ import annotations

from typing import Any

MAX_PREVIEW = 200


def preview_map(literal_map_pb: bytes) -> dict[str, str]:
    """``{name: short text}`` for a serialized ``LiteralMap``."""
    from flyteidl.core import literals_pb2

    message = literals_pb2.LiteralMap()
    message.ParseFromString(literal_map_pb)
    return {name: _clip(_text(lit)) for name, lit in sorted(message.literals.items())}


def _clip(text: str) -> str:
    return text if len(text) <= MAX_PREVIEW else text[: MAX_PREVIEW - 1] + "…"


def _text(literal: Any) -> str:  # noqa: C901, PLR0911 - one branch per literal kind
    kind = literal.WhichOneof("value")
    if kind == "collection":
        return "[" + ", ".join(_text(x) for x in literal.collection.literals) + "]"
    if kind == "map":
        items = literal.map.literals.items()
        return "{" + ", ".join(f"{k!r}: {_text(v)}" for k, v in sorted(items)) + "}"
    if kind != "scalar":
        return f"<{kind}>"
    scalar = literal.scalar
    which = scalar.WhichOneof("value")
    if which == "primitive":
        primitive = scalar.primitive
        field = primitive.WhichOneof("value")
        value = getattr(primitive, field)
        if field in ("datetime", "duration"):
            return str(value.ToJsonString())
        return repr(value)
    if which == "none_type":
        return "None"
    if which == "blob":
        return f"<file {scalar.blob.uri}>"
    if which == "structured_dataset":
        return f"<dataset {scalar.structured_dataset.uri}>"
    if which == "generic":
        from google.protobuf.json_format import MessageToJson

        return str(MessageToJson(scalar.generic, indent=None))
    if which == "error":
        return f"<error {scalar.error.message}>"
    return f"<{which}>"
