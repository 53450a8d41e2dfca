"""Dataclass and pydantic outputs preview as their values, not ``<binary>`` (issue 13, item 4).

The run store keeps a text preview of outputs made without the entity's Python types; the
cell display and the run page both show it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import msgpack
import pydantic
import pytest

from flyte_jupyter.sdk import load_sdk
from flyte_jupyter.sdk.literals import MAX_PREVIEW, binary_text


@dataclass
class Point:
    x: int
    y: float
    label: str


@dataclass
class Shape:
    name: str
    points: list[Point]


class Model(pydantic.BaseModel):
    name: str
    sizes: dict[str, int]


VALUES = {
    "o0": Point(1, 2.5, "a"),
    "o1": Shape("tri", [Point(0, 0.0, "o"), Point(1, 1.0, "p")]),
    "o2": Model(name="m", sizes={"a": 1}),
    "o3": 4,
}
EXPECTED = {
    "o0": {"x": 1, "y": 2.5, "label": "a"},
    "o1": {
        "name": "tri",
        "points": [{"x": 0, "y": 0.0, "label": "o"}, {"x": 1, "y": 1.0, "label": "p"}],
    },
    "o2": {"name": "m", "sizes": {"a": 1}},
}


def _flytekit_map(values):
    from flytekit.core.context_manager import FlyteContextManager
    from flytekit.core.type_engine import TypeEngine

    ctx = FlyteContextManager.current_context()
    types = {k: type(v) for k, v in values.items()}
    return TypeEngine.dict_to_literal_map(ctx, values, types).to_flyte_idl().SerializeToString()


def _flyte_outputs(values):
    from flyte.types import TypeEngine
    from flyteidl2.task import common_pb2

    literals = []
    for name, value in values.items():
        literal_type = TypeEngine.to_literal_type(type(value))
        literal = asyncio.run(TypeEngine.to_literal(value, type(value), literal_type))
        literals.append(common_pb2.NamedLiteral(name=name, value=literal))
    return common_pb2.Outputs(literals=literals).SerializeToString()


# flyte v2's pydantic transformer uses a class-based config (its warning, not ours)
@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20")
@pytest.mark.parametrize(
    ("sdk_name", "encode"), [("flytekit", _flytekit_map), ("flyte", _flyte_outputs)]
)
def test_structured_outputs_preview_as_json_in_both_sdks(sdk_name, encode):
    preview = load_sdk(sdk_name).preview_outputs(encode(VALUES))
    assert preview["o3"] == "4"
    for name, expected in EXPECTED.items():
        assert "<binary" not in preview[name]
        assert json.loads(preview[name]) == expected, name


def test_a_long_value_is_clipped_and_undecodable_bytes_stay_marked():
    long = binary_text(msgpack.packb({"text": "x" * 500}), "msgpack")
    assert len(long) <= MAX_PREVIEW or long.startswith('{"text": "xxx')
    assert binary_text(b"\xc1", "msgpack") == "<binary msgpack>"  # 0xc1: never used
    assert binary_text(b"{not json", "json") == "<binary json>"
    assert binary_text(b"\x00\x01", "") == "<binary>"
    assert binary_text(b'{"a": [1, "b"]}', "json") == '{"a": [1, "b"]}'
    assert binary_text(msgpack.packb({"raw": b"\x00"}), "msgpack") == '{"raw": "b\'\\\\x00\'"}'
