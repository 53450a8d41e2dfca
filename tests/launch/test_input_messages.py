"""Messages for a wrong %flyte_run call name the real inputs and types, for both SDKs.

Each is refused before anything is bundled, uploaded or run.
"""

import pytest
from IPython.core.error import UsageError
from shell_helpers import run_cell

from flyte_jupyter.sdk.inputs import type_name

FLYTEKIT = """
import typing
from dataclasses import dataclass
from flytekit import task, workflow

@dataclass
class Point:
    x: int

@task
def greet(name: str, times: int = 1) -> str:
    return name * times

@task
def mean(values: typing.List[float], weights: list[float], where: dict[str, Point]) -> float:
    return 0.0

@workflow
def hello(name: str) -> str:
    return greet(name=name)

def plain(name: str) -> str:
    return name
"""

FLYTE_V2 = """
import typing
from dataclasses import dataclass
import flyte

env = flyte.TaskEnvironment(name="demo")

@dataclass
class Point:
    x: int

@env.task
def greet(name: str, times: int = 1) -> str:
    return name * times

@env.task
def mean(values: typing.List[float], weights: list[float], where: dict[str, Point]) -> float:
    return 0.0

def plain(name: str) -> str:
    return name
"""


@pytest.fixture(params=["flytekit", "flyte"])
def nb(request, ip, monkeypatch):
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    run_cell(ip, FLYTEKIT if request.param == "flytekit" else FLYTE_V2)
    return ip


def refusal(nb, line):
    with pytest.raises(UsageError) as info:
        nb.run_line_magic("flyte_run", line)
    return str(info.value)


def assert_nothing_happened(tmp_path):
    assert not (tmp_path / "home" / "runs.sqlite").exists()
    assert not list((tmp_path / "home").glob("cache/bundles/*.tar.gz"))


def test_positional_inputs_are_named_with_the_real_inputs(nb, tmp_path):
    message = refusal(nb, "greet('bob')")
    assert message.startswith("Pass inputs by name, as Flyte requires: greet(name='bob').")
    assert "greet(name: str, times: int = ...)" in message
    assert "x=" not in message
    message = refusal(nb, "greet('bob', 2 + 1)")
    assert "greet(name='bob', times=2 + 1)" in message
    message = refusal(nb, "greet('a', 2, 3)")
    assert message.startswith("greet takes 2 inputs, got 3 positional.")
    assert_nothing_happened(tmp_path)


def test_a_builtin_or_a_plain_function_is_not_a_task(nb, tmp_path):
    message = refusal(nb, "print('x')")
    assert message.startswith("print is a Python built-in, not a Flyte task or workflow.")
    assert "@task or @workflow" in message
    assert "@env.task" in message
    assert "by name" not in message.split(".")[0]
    message = refusal(nb, "len(obj=[1])")
    assert "len is a Python built-in" in message
    message = refusal(nb, "plain('x')")
    assert "'plain' is a function, not a Flyte task or workflow" in message
    message = refusal(nb, "plain(name='x')")
    assert "'plain' is a function, not a Flyte task or workflow" in message
    assert "'nothere' is not defined" in refusal(nb, "nothere(x=1)")
    assert_nothing_happened(tmp_path)


def test_parametrised_types_show_in_full(nb):
    message = refusal(nb, "mean(values=1.0, weights=[1.0], where={})")
    assert "input 'values' of mean must be List[float]" in message
    assert "mean(values: List[float], weights: list[float], where: dict[str, Point])" in message
    message = refusal(nb, "mean([1.0])")
    assert "mean(values=[1.0])" in message


def test_a_misspelt_input_gets_a_did_you_mean(nb, tmp_path):
    message = refusal(nb, "greet(nmae='bob')")
    assert message.startswith("missing name; unexpected nmae (did you mean name?).")
    assert "greet(name: str, times: int = ...)" in message
    message = refusal(nb, "greet(name='bob', Times=2)")
    assert "unexpected Times (did you mean times?)" in message
    message = refusal(nb, "greet(name='bob', colour=2)")
    assert "unexpected colour." in message  # nothing close: no guess
    assert_nothing_happened(tmp_path)


def test_cell_form_says_the_same(nb):
    result = nb.run_cell("%%flyte_run\nr = greet('bob')\n")
    assert isinstance(result.error_in_exec, UsageError)
    assert "greet(name='bob')" in str(result.error_in_exec)


def test_a_workflows_positional_inputs_are_named_too(ip):
    run_cell(ip, FLYTEKIT)
    assert "hello(name='bob')" in refusal(ip, "hello('bob')")


@pytest.mark.parametrize(
    ("annotation", "shown"),
    [
        ("int", "int"),
        ("typing.List[float]", "List[float]"),
        ("list[float]", "list[float]"),
        ("typing.Optional[int]", "Optional[int]"),
        ("int | None", "int | None"),
        ("typing.Dict[str, typing.List[Point]]", "Dict[str, List[Point]]"),
        ("Point", "Point"),
    ],
)
def test_type_names(annotation, shown):
    import typing  # noqa: F401 - used by eval

    class Point:
        pass

    assert type_name(eval(annotation)) == shown  # noqa: S307 - fixed test strings
