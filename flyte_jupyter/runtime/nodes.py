"""Record the nodes of a local workflow run as they go, for the run page: ``nodes.json``.

A workflow run locally (flytekit's local execution, flyte v2's local mode) calls its tasks
in this process. :class:`NodeLog` keeps one entry per node (id, entity, status, start and end
time, input and output previews, the byte range of the run's log written while it ran) and
rewrites ``nodes.json`` in the run's folder after every change, atomically (a temporary file
renamed over it), so the page never reads half a file. Previews are short text, cut like the
run store's previews, with secrets hidden (:class:`flyte_jupyter.redaction.Redactor` of the
run's environment). No Jupyter imports: this runs where the run runs.

The file::

    {"version": 1, "sdk": "flytekit", "updated_at": 1700000000.0, "nodes": [
        {"id": "n0", "name": "square", "entity": "nb_demo.square", "kind": "task",
         "status": "SUCCEEDED", "started_at": ..., "ended_at": ...,
         "inputs": {"x": "7"}, "outputs": {"o0": "49"}, "error": null,
         "log_start": 120, "log_end": 180}]}

``log_start``/``log_end`` are positions in ``run.log`` (null when the log is not a file);
``log_shared`` says that other nodes ran at the same time, so that range holds their lines too.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from flyte_jupyter._private import write_private
from flyte_jupyter.redaction import Redactor
from flyte_jupyter.sdk.literals import clip

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

NODES_FILE = "nodes.json"
FORMAT_VERSION = 1
MAX_NODES = 500  # a dynamic fan-out beyond this is summarised by its first nodes
MAX_ERROR = 4000


@dataclass(eq=False)  # nodes are told apart by identity, never by equal fields
class Node:
    """One node of the run, as far as it got."""

    id: str
    name: str
    entity: str
    kind: str
    status: str = "QUEUED"
    started_at: float | None = None
    ended_at: float | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] | None = None
    error: str | None = None
    log_start: int | None = None
    log_end: int | None = None
    parent: str | None = None
    # it ran alongside a node that is not its ancestor (flyte v2's asyncio.gather): its
    # range of the log holds their lines too
    log_shared: bool = False


class NodeLog:
    """The nodes of one run, written to ``path`` whenever one changes.

    Parameters
    ----------
    path
        Where ``nodes.json`` goes (the run's folder).
    sdk
        ``flytekit`` or ``flyte``: the page names it.
    environ
        The run's environment: the values of its secret-named variables are hidden.
    """

    def __init__(self, path: Path, sdk: str, environ: Mapping[str, str] | None = None) -> None:
        self.path = path
        self.sdk = sdk
        self.redactor = Redactor.of(os.environ if environ is None else environ)
        self.nodes: list[Node] = []
        self.dropped = 0
        self.running: list[Node] = []  # the node whose entity runs now, innermost last
        # flyte v2's local mode reports sub-actions from its controller's thread
        self.lock = threading.RLock()

    def plan(self, node_id: str, name: str, entity: str, kind: str) -> Node:
        """Add a node that has not started yet."""
        node = Node(id=node_id, name=name, entity=entity, kind=kind)
        if len(self.nodes) < MAX_NODES:
            self.nodes.append(node)
        else:
            self.dropped += 1
        return node

    def found(
        self,
        name: str,
        entity: str,
        kind: str,
        *,
        node_id: str | None = None,
        parent: Node | None = None,
    ) -> Node:
        """Add a node met while running, listed after its parent's other children.

        By default its parent is the innermost running node (a sub-workflow's task, a dynamic
        fan-out) and its id the parent's with the child's position (``n1-0``).
        """
        with self.lock:
            if parent is None and node_id is None:
                parent = self.running[-1] if self.running else None
            if node_id is None:
                siblings = [n for n in self.nodes if n.parent == (parent.id if parent else None)]
                node_id = f"{parent.id}-{len(siblings)}" if parent else f"n{len(siblings)}"
            node = Node(
                id=node_id,
                name=name,
                entity=entity,
                kind=kind,
                parent=parent.id if parent else None,
            )
            if len(self.nodes) >= MAX_NODES:
                self.dropped += 1
                return node
            at = len(self.nodes)
            if parent is not None and parent in self.nodes:
                at = self.nodes.index(parent) + 1
                while at < len(self.nodes) and self._within(self.nodes[at], parent):
                    at += 1
            self.nodes.insert(at, node)
            return node

    def _within(self, node: Node, ancestor: Node) -> bool:
        parents = {n.id: n.parent for n in self.nodes}
        current = node.parent
        while current is not None:
            if current == ancestor.id:
                return True
            current = parents.get(current)
        return False

    def start(self, node: Node, inputs: Mapping[str, str]) -> None:
        """The node starts with these inputs (already text)."""
        with self.lock:
            node.status = "RUNNING"
            node.started_at = time.time()
            node.inputs = self._shown(inputs)
            node.log_start = log_position()
            alongside = [n for n in self.running if not self._within(node, n)]
            for other in (node, *alongside) if alongside else ():
                other.log_shared = True
            self.running.append(node)
            self.write()

    def succeed(self, node: Node, outputs: Mapping[str, str]) -> None:
        """The node ended with these outputs (already text)."""
        node.status = "SUCCEEDED"
        node.outputs = self._shown(outputs)
        self._end(node)

    def fail(self, node: Node, error: str) -> None:
        """The node failed with this error text."""
        node.status = "FAILED"
        node.error = self.redactor.text(error)[-MAX_ERROR:]
        self._end(node)

    def finish(self) -> None:
        """The run ended: nodes that never started are marked SKIPPED."""
        for node in self.nodes:
            if node.status == "QUEUED":
                node.status = "SKIPPED"
        self.write()

    def _end(self, node: Node) -> None:
        with self.lock:
            if node in self.running:
                self.running.remove(node)
            node.ended_at = time.time()
            node.log_end = log_position()
            self.write()

    def _shown(self, values: Mapping[str, str]) -> dict[str, str]:
        return {name: clip(text) for name, text in self.redactor.mapping(values).items()}

    def write(self) -> None:
        """Replace ``nodes.json`` atomically; a failure to write never fails the run."""
        with self.lock:
            self._write()

    def _write(self) -> None:
        data = {
            "version": FORMAT_VERSION,
            "sdk": self.sdk,
            "updated_at": time.time(),
            "more_nodes": self.dropped,
            "nodes": [asdict(node) for node in self.nodes],
        }
        temporary = self.path.with_name(
            f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp"
        )
        try:
            write_private(temporary, json.dumps(data, indent=1))
            os.replace(temporary, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                temporary.unlink()


def log_position() -> int | None:
    """How far the run's log is written (stdout is the log file), after flushing."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    try:
        st = os.fstat(1)
    except OSError:
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def value_text(value: Any) -> str:
    """A Python value as short text (its repr, cut)."""
    try:
        return clip(repr(value))
    except Exception:  # noqa: BLE001 - a broken __repr__ must not fail the run
        return f"<{type(value).__name__}>"
