"""The nodes of a workflow run (or of a flyte v2 task calling tasks), for the run page.

A local run writes ``nodes.json`` in its folder as it goes (see
:mod:`flyte_jupyter.runtime.nodes`): each node's id, entity, status, start and end, input and
output previews, error, and the byte range of ``run.log`` it wrote. This module reads it
through :func:`flyte_jupyter._private.open_inside` (the run's own code could plant a link
there), redacts every value again with the run's redactor, and cuts each node's log out of
``run.log``. A remote workflow run's file is written from Flyte admin's node executions
(:mod:`flyte_jupyter.launch.remote_nodes`); its nodes' logs are in the Flyte console.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flyte_jupyter.server.details import read_json, run_folder
from flyte_jupyter.server.logview import LogLine, render
from flyte_jupyter.server.service import read_log
from flyte_jupyter.server.view import duration, when

if TYPE_CHECKING:
    from pathlib import Path

    from flyte_jupyter.launch.model import RunRecord
    from flyte_jupyter.redaction import Redactor
    from flyte_jupyter.server.cellmap import CellMap, Segment

NODES_FILE = "nodes.json"
MAX_NODES = 500
NODE_LOG = 64 * 1024  # bytes of one node's log the page shows (its end)
NODE_LOGS = 2 * 1024 * 1024  # bytes of all nodes' logs one page reads, shared among them
MIN_NODE_LOG = 4 * 1024
_STATUSES = frozenset({"QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "ABORTED", "SKIPPED"})


@dataclass(frozen=True)
class NodeView:
    """One node as the page shows it."""

    id: str
    name: str
    entity: str
    kind: str
    status: str
    depth: int
    started: str | None
    duration: str | None
    inputs: dict[str, str]
    outputs: dict[str, str] | None
    error: tuple[Segment, ...] | None
    log: tuple[LogLine, ...] | None
    log_cut: bool
    log_shared: bool


@dataclass(frozen=True)
class NodesView:
    """The run's nodes; ``more`` counts nodes the runner did not list."""

    sdk: str
    nodes: tuple[NodeView, ...]
    more: int
    stamp: float | None = None  # the file's updated_at: the page reloads when it changes


def nodes_stamp(record: RunRecord, home: Path) -> float | None:
    """When ``nodes.json`` last changed (its ``updated_at``), None without one."""
    root = run_folder(record, home)
    data = read_json(root, NODES_FILE) if root else None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        return None  # as read_nodes: a file the page does not show never reloads it
    return _float(data.get("updated_at"))


def read_nodes(
    record: RunRecord, home: Path, redactor: Redactor, cells: CellMap
) -> NodesView | None:
    """The run's ``nodes.json`` as the page shows it, or None (blocking: a worker thread)."""
    root = run_folder(record, home)
    data = read_json(root, NODES_FILE) if root else None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        return None
    raw = [n for n in data["nodes"][:MAX_NODES] if isinstance(n, dict)]
    depths: dict[str, int] = {}
    nodes = []
    share = max(MIN_NODE_LOG, min(NODE_LOG, NODE_LOGS // max(1, len(raw))))
    for item in raw:
        node = _node(
            item, record, home=home, redactor=redactor, cells=cells, depths=depths, share=share
        )
        depths[node.id] = node.depth
        nodes.append(node)
    more = data.get("more_nodes")
    return NodesView(
        sdk=str(data.get("sdk") or record.sdk),
        nodes=tuple(nodes),
        more=(more if isinstance(more, int) else 0) + max(0, len(data["nodes"]) - MAX_NODES),
        stamp=_float(data.get("updated_at")),
    )


def _node(
    item: dict[str, Any],
    record: RunRecord,
    *,
    home: Path,
    redactor: Redactor,
    cells: CellMap,
    depths: dict[str, int],
    share: int,
) -> NodeView:
    started, ended = _float(item.get("started_at")), _float(item.get("ended_at"))
    status = _status(str(item.get("status") or "QUEUED"), record)
    if started is not None and ended is None and record.done:
        ended = record.updated_at  # the run ended while the node ran (cancelled, crashed)
    end = ended if ended is not None else time.time()
    parent = item.get("parent")
    error = item.get("error")
    log, cut = _node_log(item, record, home, redactor, cells=cells, share=share)
    return NodeView(
        id=redactor.text(str(item.get("id") or "?")),
        name=redactor.text(str(item.get("name") or "?")),
        entity=redactor.text(str(item.get("entity") or "")),
        kind="workflow" if item.get("kind") == "workflow" else "task",
        status=status,
        depth=depths.get(str(parent), -1) + 1 if parent else 0,
        started=when(started) if started is not None else None,
        duration=duration(end - started) if started is not None else None,
        inputs=_values(item.get("inputs"), redactor) or {},
        outputs=_values(item.get("outputs"), redactor),
        error=cells.segments(redactor.text(str(error))) if error else None,
        log=None if item.get("log_shared") is True else log,
        log_cut=cut,
        log_shared=item.get("log_shared") is True,
    )


def _status(status: str, record: RunRecord) -> str:
    """What a node's status means once the run has ended without telling the node."""
    status = status if status in _STATUSES else "QUEUED"
    if not record.done or status not in ("QUEUED", "RUNNING"):
        return status
    if status == "QUEUED":
        return "SKIPPED"
    return "FAILED" if record.status == "SUCCEEDED" else record.status


def _values(values: Any, redactor: Redactor) -> dict[str, str] | None:
    if not isinstance(values, dict):
        return None
    return redactor.mapping({str(k): str(v) for k, v in values.items()})


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _node_log(
    item: dict[str, Any],
    record: RunRecord,
    home: Path,
    redactor: Redactor,
    *,
    cells: CellMap,
    share: int,
) -> tuple[tuple[LogLine, ...] | None, bool]:
    """The part of ``run.log`` the node wrote (its last ``share`` bytes)."""
    start, end = item.get("log_start"), item.get("log_end")
    if not isinstance(start, int) or start < 0:
        return None, False
    if not isinstance(end, int) or end < start:
        return None, False  # still running: its lines are in the run's log below
    first = max(start, end - share)
    chunk = read_log(record.log_path, offset=first, limit=end - first, root=home / "runs")
    if not chunk.available:
        return None, False
    lines = tuple(render(line, redactor, cells) for line in chunk.text.splitlines())
    return lines, first > start
