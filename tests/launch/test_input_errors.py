"""Inputs that flytekit's type engine takes but a Flyte literal cannot carry: clear errors."""

import pytest
from flytekit import task

from flyte_jupyter.errors import InputError
from flyte_jupyter.sdk import inputs as inputs_module
from flyte_jupyter.sdk import sdk_for


def check_inputs(name, entity, inputs):
    return sdk_for(entity).check_inputs(name, entity, inputs)


@task
def square(x: int) -> int:
    return x * x


@task
def total(xs: list[int]) -> int:
    return sum(xs)


@task
def length(text: str, other: str = "") -> int:
    return len(text) + len(other)


def test_an_int_beyond_64_bits_names_the_input_and_the_range():
    # a raw "ValueError: Value out of range" came from protobuf before
    with pytest.raises(InputError) as info:
        check_inputs("square", square, {"x": 2**80})
    message = str(info.value)
    assert "input 'x' of square is 1208925819614629174706176" in message
    assert "outside Flyte's integer range (64-bit signed: -2**63 to 2**63 - 1)" in message
    assert check_inputs("square", square, {"x": -(2**63)})[1] == {"x": str(-(2**63))}


def test_a_big_int_inside_a_list_is_an_input_error():
    with pytest.raises(InputError, match=r"input 'xs' of total must be list.*out of range"):
        check_inputs("total", total, {"xs": [1, 2**64]})


def test_inputs_over_the_protobuf_limit_are_refused_before_serializing(monkeypatch):
    # protobuf cannot serialize a message of 2 GiB or more; the test lowers the limit only
    # to avoid allocating 2 GiB: the check is the same size computation
    monkeypatch.setattr(inputs_module, "MAX_INPUTS_BYTES", 10_000)
    pb, _ = check_inputs("length", length, {"text": "x" * 9_000})
    assert len(pb) <= 10_000
    with pytest.raises(InputError) as info:
        check_inputs("length", length, {"text": "x" * 20_000, "other": "y" * 5})
    message = str(info.value)
    assert "The inputs of length are 19.6 KiB as a Flyte literal map" in message
    assert "over protobuf's limit of 9.8 KiB" in message
    assert message.index("text (") < message.index("other (")  # largest first
    assert "FlyteFile" in message
