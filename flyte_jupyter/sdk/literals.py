"""Short text of a Flyte literal, for previews: flyteidl and flyteidl2 literals alike.

Both SDKs' literal messages have the same fields (``scalar.primitive``, ``collection``,
``map`` ...), so one reader serves both; nothing here imports an SDK.
"""

from __future__ import annotations

from typing import Any

MAX_PREVIEW = 200


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
    return f"<{which}>"
