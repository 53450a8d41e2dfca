"""Notebook code and shell helpers shared by the remote backend tests."""

from __future__ import annotations

import textwrap

DEFS = """
from flytekit import task, workflow

@task
def square(x: int) -> int:
    return x * x

@workflow
def pipeline(x: int) -> int:
    return square(x=square(x=x))
"""

V2_DEFS = """
import flyte
import v2helper

env = flyte.TaskEnvironment(name="nbv2", image="ghcr.io/acme/base:1.0", env_vars={"STAGE": "two"})

@env.task
def square(x: int) -> int:
    return v2helper.double(x) * x // 2

@env.task
def boom(x: int) -> int:
    raise ValueError(f"bad value {x}")
"""


def cell(ip, source, cell_id=None):
    """Run a cell as the notebook would (recorded by the extension); raise its error."""
    result = ip.run_cell(textwrap.dedent(source), cell_id=cell_id)
    if result.error_before_exec or result.error_in_exec:
        raise result.error_before_exec or result.error_in_exec
    return result.result


def flyte_run(ip, line):
    """``%flyte_run <line>``; returns the Run."""
    return ip.run_line_magic("flyte_run", line)
