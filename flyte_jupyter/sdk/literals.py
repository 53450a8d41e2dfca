"""Short text of a Flyte literal, for previews: flyteidl and flyteidl2 literals alike.

Both SDKs' literal messages have the same fields (``scalar.primitive``, ``collection``,
``map`` ...), so one reader serves both; nothing here imports an SDK.
"""

from __future__ import annotations

import json
from typing import Any

MAX_PREVIEW = 200
_TEXT_TAGS = ("json", "application/json")


def clip(text: str) -> str:
    """``text``, cut to :data:`MAX_PREVIEW` characters."""
    return text if len(text) <= MAX_PREVIEW else text[: MAX_PREVIEW - 1] + "…"


def literal_text(literal: Any) -> str:  # noqa: C901, PLR0911 - one branch per literal kind
    """``4``, ``[1, 2]``, ``<file s3://...>``: a literal as short text."""
    kind = literal.WhichOneof("value")
    if kind == "collection":
        return "[" + ", ".join(literal_text(x) for x in literal.collection.literals) + "]"
    if kind == "map":
        items = literal.map.literals.items()
        return "{" + ", ".join(f"{k!r}: {literal_text(v)}" for k, v in sorted(items)) + "}"
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
    if which == "binary":
        return binary_text(scalar.binary.value, scalar.binary.tag)
    return f"<{which}>"


def binary_text(value: bytes, tag: str) -> str:
    """A binary literal as JSON-like text: ``{"x": 1, "y": 2}`` for a dataclass.

    Both SDKs write dataclasses and pydantic models as msgpack (tag ``msgpack``); JSON is
    read too. What cannot be decoded stays ``<binary>`` (with its tag), never an error.
    """
    data: Any
    try:
        if tag == "msgpack":
            import msgpack  # type: ignore[import-untyped]  # both SDKs depend on it

            data = msgpack.unpackb(value, raw=False, strict_map_key=False)
        elif tag in _TEXT_TAGS:
            data = json.loads(value)
        else:
            return f"<binary {tag}>" if tag else "<binary>"
    except (ImportError, ValueError, TypeError):  # msgpack's decode errors are ValueErrors
        return f"<binary {tag}>"
    return json.dumps(data, ensure_ascii=False, default=_fallback)


def _fallback(value: object) -> str:
    """Bytes and msgpack extension types as their repr (JSON has no such values)."""
    return repr(value)
