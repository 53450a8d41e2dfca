"""The nodes of a remote workflow run, from Flyte admin, as ``nodes.json`` for the run page.

A local workflow run writes ``nodes.json`` itself (:mod:`flyte_jupyter.runtime.nodes`). A
remote one runs on the cluster: when the remote launcher refreshes a workflow run's status it
also lists the execution's node executions (``ListNodeExecutions``: one call per refresh, and
refreshes are rate-limited) and, once per node that has ended, reads its inputs and outputs
(``GetNodeExecutionData``). The same file format results, in the run's own folder, so the run
page shows remote nodes as it shows local ones; their logs are in the Flyte console.

Each node's entity is named from the workflow's serialized template, recorded with the run's
first record (``extra["node_entities"]``: node id -> task or sub-workflow name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flyte_jupyter.runtime.nodes import NODES_FILE, NodeLog

if TYPE_CHECKING:
    from pathlib import Path

    from flyte_jupyter.launch.model import LaunchSpec

# flyteidl core.NodeExecution.Phase -> the statuses the page knows
NODE_PHASES = {
    0: "QUEUED",  # UNDEFINED
    1: "QUEUED",
    2: "RUNNING",
    3: "SUCCEEDED",
    4: "RUNNING",  # FAILING
    5: "FAILED",
    6: "ABORTED",
    7: "SKIPPED",
    8: "FAILED",  # TIMED_OUT
    9: "RUNNING",  # DYNAMIC_RUNNING
    10: "SUCCEEDED",  # RECOVERED
}
_ENDED = frozenset({"SUCCEEDED", "FAILED", "ABORTED", "SKIPPED"})
_SPECIAL = frozenset({"start-node", "end-node"})
MAX_LISTED = 200


def node_entities(spec: LaunchSpec) -> dict[str, str]:
    """``{node id: entity}`` of the workflow's template (empty for tasks, v2 or no spec)."""
    if spec.kind != "workflow" or spec.sdk != "flytekit":
        return {}
    template = spec.serialized.find(spec.flyte_name, "workflow").read().template
    names = {}
    for node in template.nodes:
        if node.id in _SPECIAL:
            continue
        if node.HasField("task_node"):
            names[node.id] = node.task_node.reference_id.name
        elif node.HasField("workflow_node"):
            ident = node.workflow_node.sub_workflow_ref or node.workflow_node.launchplan_ref
            names[node.id] = ident.name
        else:
            names[node.id] = node.metadata.name or node.id
    return names


class RemoteNodes:
    """Keeps each run's node data that no longer changes (the inputs and outputs of ended nodes)."""

    def __init__(self) -> None:
        self._data: dict[tuple[str, str], tuple[dict[str, str], dict[str, str] | None]] = {}

    def record(
        self, client: Any, run_id: str, execution_id: Any, folder: Path, entities: dict[str, str]
    ) -> None:
        """List the execution's nodes on admin and write ``folder/nodes.json``."""
        from flytekit.models.core.identifier import NodeExecutionIdentifier

        listed, _ = client.list_node_executions(execution_id, limit=MAX_LISTED)
        log = NodeLog(folder / NODES_FILE, "flytekit", environ={})
        for execution in sorted(listed, key=_started):
            node_id = execution.id.node_id
            if node_id in _SPECIAL:
                continue
            closure = execution.closure
            entity = entities.get(node_id, node_id)
            node = log.plan(node_id, entity.rsplit(".", 1)[-1], entity, _kind(execution))
            node.status = NODE_PHASES.get(int(closure.phase), "RUNNING")
            started = _seconds(closure.started_at)
            node.started_at = started
            if node.status in _ENDED and started is not None:
                node.ended_at = started + closure.duration.total_seconds()
            if closure.error is not None and closure.error.message:
                node.error = log.redactor.text(closure.error.message)
            if node.status in _ENDED:
                key = (run_id, node_id)
                if key not in self._data:
                    ident = NodeExecutionIdentifier(node_id, execution_id)
                    self._data[key] = _previews(client.get_node_execution_data(ident))
                node.inputs, node.outputs = self._data[key]
        log.write()


def _kind(execution: Any) -> str:
    return "workflow" if execution.metadata.is_parent_node else "task"


def _started(execution: Any) -> float:
    return _seconds(execution.closure.started_at) or float("inf")


def _seconds(stamp: Any) -> float | None:
    """A flytekit timestamp (a ``datetime``) as epoch seconds; None when unset."""
    if stamp is None:
        return None
    value = stamp.timestamp()
    return value if value > 0 else None


def _previews(data: Any) -> tuple[dict[str, str], dict[str, str] | None]:
    from flyte_jupyter.sdk import load_sdk

    flytekit = load_sdk("flytekit")

    def shown(literal_map: Any) -> dict[str, str]:
        if literal_map is None or not literal_map.literals:
            return {}
        return flytekit.preview_outputs(literal_map.to_flyte_idl().SerializeToString())

    outputs = shown(data.full_outputs)
    return shown(data.full_inputs), outputs or None
