"""A real local workflow run (flytekit) and a flyte v2 task calling tasks record their nodes."""

from __future__ import annotations

import json

import pytest
from shell_helpers import run_cell

pytestmark = pytest.mark.slow

FLYTEKIT = """
from flytekit import task, workflow

@task
def double(x: int) -> int:
    print(f"doubling {x}")
    return 2 * x

@task
def shout(n: int) -> str:
    if n > 10:
        raise ValueError(f"too big: {n}")
    return "!" * n

@workflow
def chain(x: int) -> str:
    return shout(n=double(x=x))
"""


def nodes(tmp_path, run):
    path = tmp_path / "home" / "runs" / run.id / "nodes.json"
    return json.loads(path.read_text(encoding="utf-8"))["nodes"]


def test_a_local_workflow_run_writes_its_nodes(ip, tmp_path):
    run_cell(ip, FLYTEKIT, cell_id="defs")
    run = ip.run_line_magic("flyte_run", "--wait chain(x=2)")
    assert run.status == "SUCCEEDED", run.logs()
    found = nodes(tmp_path, run)
    assert [(n["name"], n["status"]) for n in found] == [
        ("double", "SUCCEEDED"),
        ("shout", "SUCCEEDED"),
    ]
    assert found[0]["inputs"] == {"x": "2"}
    assert found[1]["outputs"] == {"o0": "'!!!!'"}
    log = (tmp_path / "home" / "runs" / run.id / "run.log").read_bytes()
    assert b"doubling 2" in log[found[0]["log_start"] : found[0]["log_end"]]

    failed = ip.run_line_magic("flyte_run", "--wait --no-raise chain(x=6)")
    assert failed.status == "FAILED"
    assert [n["status"] for n in nodes(tmp_path, failed)] == ["SUCCEEDED", "FAILED"]


FLYTE_V2 = """
import asyncio
import flyte

env = flyte.TaskEnvironment(name="nodes", image="ghcr.io/acme/base:1.0")

@env.task
async def sq(x: int) -> int:
    if x == 13:
        raise ValueError(f"unlucky {x}")
    return x * x

@env.task
async def fan(n: int, start: int = 0) -> list[int]:
    return list(await asyncio.gather(*[sq(x=i) for i in range(start, start + n)]))
"""


def test_a_flyte_v2_task_calling_tasks_writes_its_sub_actions_as_nodes(ip, tmp_path, monkeypatch):
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    run_cell(ip, FLYTE_V2, cell_id="v2")
    run = ip.run_line_magic("flyte_run", "--wait fan(n=3)")
    assert run.status == "SUCCEEDED", run.logs()
    found = nodes(tmp_path, run)
    subs = [n for n in found if n["name"] == "sq"]
    assert sorted(n["inputs"]["x"] for n in subs) == ["0", "1", "2"]
    assert {n["status"] for n in subs} == {"SUCCEEDED"}
    assert sorted(n["outputs"]["o0"] for n in subs) == ["0", "1", "4"]

    failed = ip.run_line_magic("flyte_run", "--wait --no-raise fan(n=2, start=12)")
    assert failed.status == "FAILED"
    statuses = {n["inputs"].get("x"): n["status"] for n in nodes(tmp_path, failed)}
    assert statuses["13"] == "FAILED"
