"""CellOrigins: frames of the generated module pointed back at the cells they came from."""

import pytest

from flyte_jupyter.capture import CellRecord, build_module
from flyte_jupyter.capture.origins import EXTRA_KEY, CellOrigins

TRACE = """Traceback (most recent call last):
  File "/x/site-packages/flytekit/core/base_task.py", line 767, in dispatch_execute
    native_outputs = self.execute(**native_inputs)
  File "/home/u/.flyte_jupyter/runs/fabc/work/nb_demo.py", line {line}, in boom
    raise ValueError('bad')
  File "C:\\\\runs\\\\work\\\\nb_demo.py", line {line}
  File "/elsewhere/not_nb_demo.py", line {line}, in other
ValueError: bad
"""


def module():
    cells = (
        CellRecord("a", "from flytekit import task\n", "from flytekit import task\n", 0, 3),
        CellRecord(
            "b",
            "x = 1\n\n\n@task\ndef boom() -> int:\n    raise ValueError('bad')\n",
            "",
            1,
            4,
        ),
    )
    return build_module(cells, ["boom"], "nb_demo")


def test_frames_of_the_module_name_the_cell_and_its_line():
    mod = module()
    origins = CellOrigins.of(mod)
    raise_line = mod.source.splitlines().index("    raise ValueError('bad')") + 1
    mapped = origins.map_text(TRACE.format(line=raise_line))
    assert f"cell [4], line 6, in boom (nb_demo.py, line {raise_line})" in mapped
    assert f"cell [4], line 6 (nb_demo.py, line {raise_line})" in mapped  # a Windows path
    assert "flytekit/core/base_task.py" in mapped  # other frames stay as they were
    assert f'"/elsewhere/not_nb_demo.py", line {raise_line}' in mapped
    assert origins.where(raise_line) == ("cell [4]", 6)
    assert mod.origin(raise_line) == "cell [4], line 6"  # the self-check's answer agrees


def test_faulthandlers_frames_are_mapped_too():
    origins = CellOrigins("nb_demo.py", ((5, "cell [1]", 1),))
    text = '  File "/w/nb_demo.py", line 9 in segfault\n'
    assert origins.map_text(text) == "  cell [1], line 5, in segfault (nb_demo.py, line 9)\n"


def test_a_line_before_the_first_statement_stays_as_it_was():
    origins = CellOrigins("nb_demo.py", ((5, "cell [1]", 1),))
    text = 'File "/w/nb_demo.py", line 2, in <module>'
    assert origins.map_text(text) == text
    assert origins.where(2) is None


def test_the_stored_form_round_trips_and_bad_data_is_ignored():
    origins = CellOrigins.of(module())
    assert CellOrigins.from_extra({EXTRA_KEY: origins.to_json()}) == origins
    assert CellOrigins.from_extra({}) is None


@pytest.mark.parametrize(
    "data",
    [
        None,
        "nb.py",
        {"file": 3, "lines": []},
        {"file": "nb.py", "lines": "x"},
        {"file": "nb.py", "lines": [[1, "cell [1]"]]},
        {"file": "nb.py", "lines": [["1", "cell [1]", 1]]},
        {"file": "nb.py", "lines": [[1, 2, 1]]},
        {"file": "nb.py", "lines": [[1, "cell [1]", None]]},
    ],
)
def test_malformed_stored_forms_give_no_mapping(data):
    assert CellOrigins.from_json(data) is None
