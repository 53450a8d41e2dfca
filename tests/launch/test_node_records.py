"""What the local runners record of a run's nodes (nodes.json), without a whole run."""

from __future__ import annotations

import importlib
import json
import sys

import pytest

from flyte_jupyter.runtime.nodes import NodeLog
from flyte_jupyter.runtime.run_workflow import track_nodes

WORKFLOW = """
from dataclasses import dataclass
from flytekit import task, workflow

@dataclass
class Point:
    x: int

@task
def inc(x: int) -> int:
    print("inc", x)
    return x + 1

@task
def scale(k: int, p: Point) -> Point:
    return Point(x=k * p.x)

@task
def explode(x: int) -> int:
    if x:
        raise ValueError(f"no {x}; password=hunter2-secret")
    return x

@workflow
def sub(x: int) -> int:
    return inc(x=x)

@workflow
def pipeline(x: int, api_key: str = "sk-live-123456") -> Point:
    u = inc(x=x)
    v = sub(x=u)
    return scale(k=v, p=Point(x=2))

@workflow
def broken(x: int) -> int:
    y = inc(x=x)
    z = explode(x=y)
    return inc(x=z)
"""


@pytest.fixture
def module(tmp_path, monkeypatch):
    name = f"nb_nodes_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(WORKFLOW, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module(name)
    sys.modules.pop(name, None)


def nodes_of(path):
    return json.loads(path.read_text(encoding="utf-8"))["nodes"]


def test_each_node_is_recorded_with_status_times_inputs_and_outputs(module, tmp_path):
    path = tmp_path / "nodes.json"
    log = NodeLog(path, "flytekit", {"MY_TOKEN": "sk-live-123456"})
    track_nodes(module.pipeline, log)
    assert [n["status"] for n in nodes_of(path)] == ["QUEUED"] * 3  # planned before it runs
    assert module.pipeline(x=3) == module.Point(x=10)
    log.finish()
    nodes = nodes_of(path)
    assert [(n["id"], n["parent"], n["name"], n["status"]) for n in nodes] == [
        ("n0", None, "inc", "SUCCEEDED"),
        ("n1", None, "sub", "SUCCEEDED"),
        ("n1-0", "n1", "inc", "SUCCEEDED"),  # the sub-workflow's own node, under it
        ("n2", None, "scale", "SUCCEEDED"),
    ]
    assert nodes[0]["inputs"] == {"x": "3"}
    assert nodes[0]["outputs"] == {"o0": "4"}
    assert nodes[3]["inputs"] == {"k": "5", "p": "Point(x=2)"}  # a dataclass as its repr
    assert nodes[3]["outputs"] == {"o0": "Point(x=10)"}
    assert nodes[1]["kind"] == "workflow"
    for node in nodes:
        assert node["started_at"] <= node["ended_at"]
    assert not list(tmp_path.glob(".nodes.json*"))  # written through a temporary file


def test_a_failing_node_fails_and_the_rest_are_skipped(module, tmp_path):
    path = tmp_path / "nodes.json"
    log = NodeLog(path, "flytekit", {})
    track_nodes(module.broken, log)
    with pytest.raises(ValueError, match="no 4"):
        module.broken(x=3)
    log.finish()
    nodes = nodes_of(path)
    assert [n["status"] for n in nodes] == ["SUCCEEDED", "FAILED", "SKIPPED"]
    assert "Traceback" in nodes[1]["error"]  # its frames, for the page to point at cells
    assert "ValueError: " in nodes[1]["error"]
    assert "no 4" in nodes[1]["error"]
    assert "hunter2-secret" not in path.read_text(encoding="utf-8")


def test_secret_values_of_the_runs_environment_never_reach_the_file(tmp_path):
    path = tmp_path / "nodes.json"
    log = NodeLog(path, "flytekit", {"DB_PASSWORD": "correct-horse-battery"})
    node = log.plan("n0", "connect", "nb.connect", "task")
    log.start(node, {"dsn": "postgres://bob:correct-horse-battery@db/x", "x": "1"})
    log.succeed(node, {"o0": "'connected with correct-horse-battery'"})
    text = path.read_text(encoding="utf-8")
    assert "correct-horse-battery" not in text
    assert '"x": "1"' in text


def test_flyte_v2_sub_actions_become_nodes(tmp_path):
    from flyte_jupyter.runtime.run_v2_local import NodeTracker

    path = tmp_path / "nodes.json"
    tracker = NodeTracker(NodeLog(path, "flyte", {}))
    tracker.record_start(action_id="root", task_name="env.main", inputs={"x": 3})
    assert tracker.get_action("root") is not None
    tracker.record_start(
        action_id="a1", task_name="env.inc", parent_id="root", inputs={"x": 3}, extra="new"
    )
    tracker.record_complete(action_id="a1", outputs={"o0": "4"})
    tracker.record_start(action_id="a2", task_name="env.inc", parent_id="root", inputs={"x": 4})
    tracker.record_failure(action_id="a2", error="ValueError: nope")
    tracker.record_complete(action_id="root", outputs="5")
    tracker.log.finish()
    nodes = nodes_of(path)
    assert [(n["id"], n["parent"], n["name"], n["status"]) for n in nodes] == [
        ("root", None, "main", "SUCCEEDED"),
        ("a1", "root", "inc", "SUCCEEDED"),
        ("a2", "root", "inc", "FAILED"),
    ]
    assert nodes[1]["outputs"] == {"o0": "4"}
    assert nodes[0]["outputs"] == {"o0": "5"}
    assert [n["log_shared"] for n in nodes] == [False, False, False]  # one after the other


def test_nodes_running_side_by_side_share_the_log(tmp_path):
    log = NodeLog(tmp_path / "nodes.json", "flyte", {})
    root = log.found("main", "env.main", "task", node_id="root")
    log.start(root, {})
    a = log.found("sq", "env.sq", "task", node_id="a", parent=root)
    b = log.found("sq", "env.sq", "task", node_id="b", parent=root)
    log.start(a, {})
    log.start(b, {})  # asyncio.gather: both run at once
    log.succeed(a, {})
    log.succeed(b, {})
    log.succeed(root, {})
    assert (root.log_shared, a.log_shared, b.log_shared) == (False, True, True)
