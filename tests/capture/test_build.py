"""The module generated from cells: definitions only, closure from the targets, pure text."""

import sys
import textwrap

import pytest

from flyte_jupyter.capture import CellLog, build_module, defined_names, module_name_for
from flyte_jupyter.errors import CaptureError


def log_of(*cells: tuple[str | None, str]) -> CellLog:
    log = CellLog()
    for cell_id, source in cells:
        log = log.add(cell_id, textwrap.dedent(source))
    return log


def source_for(log: CellLog, *targets: str) -> str:
    return build_module(log.records, targets, "nb_t").source


def test_unrelated_cells_do_not_reach_the_module():
    base = [
        ("a", "import math\n"),
        ("b", "def helper(v):\n    return math.sqrt(v)\n"),
        ("c", "def task_fn(x):\n    return helper(x)\n"),
    ]
    one = source_for(log_of(*base, ("d", "unrelated = 1\n")), "task_fn")
    two = source_for(log_of(*base, ("d", "unrelated = 2\ndef other(): pass\n")), "task_fn")
    assert one == two
    assert "unrelated" not in one
    assert "import math" in one


def test_an_edit_to_a_used_function_changes_the_module():
    one = source_for(log_of(("a", "def h(): return 1\n"), ("b", "def t(): return h()\n")), "t")
    two = source_for(log_of(("a", "def h(): return 2\n"), ("b", "def t(): return h()\n")), "t")
    assert one != two


def test_text_does_not_depend_on_cell_ids_or_execution_counts():
    cells = [("import os\n"), ("def t():\n    return os.sep\n")]
    with_ids = log_of(*((f"id{i}", c) for i, c in enumerate(cells)))
    without = log_of(*((None, c) for c in cells))
    shifted = CellLog(counter=41)
    for c in cells:
        shifted = shifted.add(None, c)
    texts = {source_for(log, "t") for log in (with_ids, without, shifted)}
    assert len(texts) == 1


def test_re_executed_cell_replaces_its_earlier_version_and_moves_last():
    log = log_of(
        ("a", "def helper():\n    return 'v1'\n"),
        ("b", "def t():\n    return helper()\n"),
        ("a", "def helper():\n    return 'v2'\n"),
    )
    src = source_for(log, "t")
    assert "'v2'" in src
    assert "'v1'" not in src
    assert src.index("def t") < src.index("def helper")


def test_last_definition_wins_without_cell_ids():
    log = log_of((None, "K = 1\n"), (None, "def t():\n    return K\n"), (None, "K = 2\n"))
    src = source_for(log, "t")
    assert "K = 2" in src
    assert "K = 1" not in src  # t reads K when called: the kernel's K is 2


def test_definition_time_names_bind_to_the_earlier_value():
    log = log_of(
        (None, "N = 3\n"),
        (None, "def t(x=N):\n    return x\n"),
        (None, "N = 4\n"),
    )
    src = source_for(log, "t")
    assert src.index("N = 3") < src.index("def t")
    assert "N = 4" not in src  # the default was fixed when t was defined


def test_magics_shell_escapes_and_side_effects_are_dropped_and_reported():
    from IPython.core.inputtransformer2 import TransformerManager

    raw = "import os\n%matplotlib inline\n!ls -l\nprint('hi')\nfor i in range(2):\n    pass\n"
    log = CellLog().add("a", TransformerManager().transform_cell(raw), raw)
    log = log.add("b", "def t():\n    return os.sep\n")
    module = build_module(log.records, ["t"], "nb_t")
    reasons = {d.code: d.reason for d in module.dropped}
    assert reasons["%matplotlib inline"] == "IPython magic"
    assert reasons["!ls -l"] == "shell escape"
    assert "side effect" in reasons["print('hi')"]
    assert "`for`" in reasons["for i in range(2):\n    pass"]
    assert all(d.cell == "cell a" for d in module.dropped)
    assert "get_ipython" not in module.source


def test_mutations_of_a_needed_name_are_kept_in_order():
    log = log_of(
        (None, "config = {}\n"),
        (None, "config['a'] = 1\n"),
        (None, "counter = 0\ncounter += 5\n"),
        (None, "def t():\n    return config['a'] + counter\n"),
    )
    src = source_for(log, "t")
    assert src.index("config = {}") < src.index("config['a'] = 1")
    assert src.index("counter = 0") < src.index("counter += 5")


def test_local_scopes_are_not_dependencies():
    log = log_of(
        (None, "x = 'global'\ny = 'unused'\n"),
        (None, "def t(y):\n    z = [x for x in range(y)]\n    return z\n"),
    )
    assert "x = 'global'" not in source_for(log, "t")


def test_class_bodies_decorators_and_annotations_are_followed():
    log = log_of(
        (None, "from dataclasses import dataclass\nT = int\n"),
        (None, "@dataclass\nclass P:\n    v: T\n"),
        (None, "def deco(f):\n    return f\n"),
        (None, "@deco\ndef t(p: P) -> P:\n    return p\n"),
    )
    src = source_for(log, "t")
    for needed in ("from dataclasses import dataclass", "T = int", "class P", "def deco"):
        assert needed in src


def test_undefined_names_are_reported_with_cell_and_line():
    log = log_of(("c1", "def t():\n    return missing_helper()\n"))
    with pytest.raises(
        CaptureError,
        match=r"'missing_helper' used by `return missing_helper\(\)` \(cell c1, line 2\)",
    ):
        build_module(log.records, ["t"], "nb_t")


def test_ipython_only_names_are_explained():
    log = log_of(("c1", "def t():\n    display(1)\n"))
    with pytest.raises(CaptureError, match="exists only inside IPython"):
        build_module(log.records, ["t"], "nb_t")


def test_unknown_target_says_to_run_the_cell():
    with pytest.raises(CaptureError, match="Run the cell that defines it"):
        build_module(log_of((None, "x = 1\n")).records, ["nope"], "nb_t")


def test_syntax_error_names_the_cell():
    log = CellLog().add("bad", "def t(:\n")
    with pytest.raises(CaptureError, match="cell bad has a syntax error"):
        build_module(log.records, ["t"], "nb_t")


def test_future_imports_are_hoisted_and_main_guard_dropped():
    log = log_of(
        (None, "def t():\n    return 1\n"),
        (None, "from __future__ import annotations\nif __name__ == '__main__':\n    t()\n"),
    )
    module = build_module(log.records, ["t"], "nb_t")
    lines = module.source.splitlines()
    assert lines[1] == "from __future__ import annotations"
    assert any("__main__" in d.reason for d in module.dropped)


def test_compound_definitions_are_kept():
    log = log_of(
        (None, "try:\n    import tomllib\nexcept ImportError:\n    tomllib = None\n"),
        (None, "def t():\n    return tomllib\n"),
    )
    assert "except ImportError" in source_for(log, "t")


def test_blank_lines_and_comments_between_adjacent_statements_are_kept():
    log = log_of(
        (None, "import os\n\n# the separator\nSEP = os.sep\n"), (None, "def t(): return SEP\n")
    )
    assert "import os\n\n# the separator\nSEP = os.sep\n" in source_for(log, "t")


def test_origin_maps_module_lines_back_to_cells():
    log = log_of(("c1", "import os\n"), ("c2", "\n\ndef t():\n    return os.sep\n"))
    module = build_module(log.records, ["t"], "nb_t")
    line = module.source.splitlines().index("    return os.sep") + 1
    assert module.origin(line) == "cell c2, line 4"


def test_defined_names_in_order_of_last_binding():
    log = log_of((None, "a = 1\nb = 2\n"), (None, "print(a)\n"), (None, "a = 3\n"))
    assert defined_names(log.records) == ["b", "a"]


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("quickstart.ipynb", "nb_quickstart"),
        ("work/Quick Start.ipynb", "nb_quick_start"),
        ("a\\b\\x-1.ipynb", "nb_x_1"),
        (None, "nb_notebook"),
        ("???.ipynb", "nb_notebook"),
    ],
)
def test_module_name_for(path, name):
    assert module_name_for(path) == name


def test_re_executed_cell_that_provides_a_decorator_stays_before_its_user():
    log = log_of(
        ("a", "from functools import lru_cache\ndef helper():\n    return 'v1'\n"),
        ("b", "@lru_cache\ndef t():\n    return helper()\n"),
        ("a", "from functools import lru_cache\ndef helper():\n    return 'v2'\n"),
    )
    src = source_for(log, "t")
    assert src.index("from functools import lru_cache") < src.index("@lru_cache")
    assert "'v2'" in src
    assert "'v1'" not in src
    compile(src, "nb_t.py", "exec")


def test_kernel_value_after_re_execution_wins():
    log = log_of(
        ("a", "from functools import lru_cache\nK = 1\n"),
        ("b", "@lru_cache\ndef t():\n    return K\n"),
        ("c", "K = 2\n"),
        ("a", "from functools import lru_cache\nK = 1\n"),
    )
    namespace: dict[str, object] = {}
    exec(compile(source_for(log, "t"), "nb_t.py", "exec"), namespace)  # noqa: S102
    assert namespace["t"]() == 1  # the kernel ran cell a last: K is 1 there


def test_re_running_an_unchanged_cell_keeps_the_module_text():
    cells = [("a", "def helper():\n    return 1\n"), ("b", "def t():\n    return helper()\n")]
    before = source_for(log_of(*cells), "t")
    assert source_for(log_of(*cells, cells[0]), "t") == before


def test_re_running_an_unchanged_cell_still_wins_over_a_later_rebinding():
    log = log_of(
        ("a", "K = 1\n"), ("b", "def t():\n    return K\n"), ("c", "K = 2\n"), ("a", "K = 1\n")
    )
    namespace: dict[str, object] = {}
    exec(compile(source_for(log, "t"), "nb_t.py", "exec"), namespace)  # noqa: S102
    assert namespace["t"]() == 1


def test_cells_are_labelled_with_the_execution_count_the_notebook_shows():
    log = CellLog().add(None, "def t():\n    return nope\n", execution_count=12)
    with pytest.raises(CaptureError, match=r"cell \[12\], line 2"):
        build_module(log.records, ["t"], "nb_t")


def test_a_name_set_inside_a_line_magic_is_explained():
    from IPython.core.inputtransformer2 import TransformerManager

    raw = "%time LIMIT = 3\n"
    log = CellLog().add("m", TransformerManager().transform_cell(raw), raw)
    log = log.add("t", "def t():\n    return LIMIT\n")
    with pytest.raises(
        CaptureError, match=r"set inside `%time LIMIT = 3`.*assign it in a plain statement"
    ):
        build_module(log.records, ["t"], "nb_t")


def test_a_count_that_does_not_advance_is_not_used_as_a_label():
    log = CellLog().add(None, "x = 1\n", execution_count=1)
    log = log.add(None, "def t():\n    return nope\n", execution_count=1)
    with pytest.raises(CaptureError, match=r"cell #2, line 2"):
        build_module(log.records, ["t"], "nb_t")


@pytest.mark.parametrize("terms", [600, 2000])
def test_a_long_expression_does_not_break_the_module(terms):
    # ast.unparse recursed once per `+` and raised RecursionError for every later bundle
    long_sum = " + ".join(["1"] * terms)
    log = log_of(("a", f"total = {long_sum}\n"), ("b", "def t():\n    return total\n"))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)  # Python's default, as in a kernel that has not raised it
    try:
        src = source_for(log, "t")
        names = defined_names(log.records)
    finally:
        sys.setrecursionlimit(limit)
    assert f"total = {long_sum}\n" in src
    assert names == ["total", "t"]
