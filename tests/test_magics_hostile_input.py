"""Hostile and careless input through the real shell: clear errors, nothing stuck."""

import sys

import pytest
from shell_helpers import run_cell

TASK = "from flytekit import task\n@task\ndef square(x: int) -> int:\n    return x * x\n"


def long_sum(terms):
    return " + ".join(["1"] * terms)


@pytest.mark.parametrize("terms", [600, 1500])
def test_a_long_expression_in_any_cell_does_not_break_later_bundles(ip, terms):
    # the shell runs with jedi's recursion limit (3000), as a kernel does: the cell runs, and
    # ast.unparse used to raise RecursionError in every later %flyte_bundle
    assert sys.getrecursionlimit() >= 3000
    run_cell(ip, TASK, cell_id="task")
    before = run_cell(ip, "%flyte_bundle square").digest
    run_cell(ip, f"big = {long_sum(terms)}", cell_id="big")
    # too long for CPython's own compiler: the cell fails, and is not recorded
    huge = ip.run_cell(f"huge = {long_sum(3000)}", cell_id="huge")
    assert isinstance(huge.error_before_exec, RecursionError)
    assert run_cell(ip, "%flyte_bundle square").digest == before
    run_cell(ip, "@task\ndef scaled(x: int) -> int:\n    return x * big\n", cell_id="s")
    assert "big = 1 + 1 + " in run_cell(ip, "%flyte_bundle scaled").source
    dry = ip.run_line_magic("flyte_run", f"--dry-run square(x={long_sum(terms)})")
    assert dry is not None
