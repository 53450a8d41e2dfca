"""Fixtures for the panel tests: a notebook with tasks in a real IPython shell, and its panel."""

import pytest
from shell_helpers import run_cell

DEFS = """
from dataclasses import dataclass
from flytekit import task, workflow

@dataclass
class Point:
    x: int
    y: int

@task
def square(x: int) -> int:
    return x * x

@task
def describe(p: Point, scale: float = 1.5, label: str = "pt", loud: bool = False) -> str:
    return f"{label}:{p.x * scale},{p.y * scale}" + ("!" if loud else "")

@workflow
def pipeline(x: int = 3) -> int:
    return square(x=x)
"""


@pytest.fixture
def nb(ip):
    """The shell with a cell that defines two tasks and a workflow."""
    run_cell(ip, DEFS, cell_id="defs")
    return ip


@pytest.fixture
def panel(nb):
    """``%flyte_panel`` of that notebook; closed (and its cell hook removed) afterwards."""
    panel = nb.run_line_magic("flyte_panel", "")
    yield panel
    panel.serialization.wait()
    panel.preview.wait()
    panel.runner.wait()
    panel.close()


@pytest.fixture
def session(panel):
    """The kernel session the panel edits (the one the magics use)."""
    return panel.session


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item):
    """Keep each phase's report on the item, so fixtures can tell a failed test."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
