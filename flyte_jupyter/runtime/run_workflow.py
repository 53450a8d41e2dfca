"""Run a workflow of the extracted bundle with flytekit's local execution.

Run under ``pyflyte-fast-execute --additional-distribution URI --dest-dir . -- python -m
flyte_jupyter.runtime.run_workflow ...``: flytekit downloads and extracts the bundle into the
working folder and puts it on ``PYTHONPATH``, so the workflow is imported from the bundle,
never from the notebook's memory. Inputs and outputs are flyteidl ``LiteralMap`` files, as
for tasks; a failure is written as ``error.pb`` (an ``ErrorDocument``).

While it runs, each node's status, times, inputs, outputs and log range go to ``nodes.json``
in the run's folder (the parent of the output prefix), for the run page: see
:mod:`flyte_jupyter.runtime.nodes`.
"""

from __future__ import annotations

import argparse
import importlib
import traceback
from collections import defaultdict
from pathlib import Path
from typing import Any

from flyte_jupyter.runtime.nodes import NODES_FILE, Node, NodeLog, value_text


def run(module: str, name: str, inputs: Path, output_prefix: Path) -> None:
    """Execute workflow ``module.name`` on ``inputs``; write ``outputs.pb`` or ``error.pb``."""
    from flyteidl.core import errors_pb2, literals_pb2
    from flytekit.core.context_manager import FlyteContextManager
    from flytekit.core.type_engine import TypeEngine
    from flytekit.models.literals import LiteralMap

    output_prefix.mkdir(parents=True, exist_ok=True)
    try:
        workflow = getattr(importlib.import_module(module), name)
        nodes = NodeLog(output_prefix.parent / NODES_FILE, "flytekit")
        track_nodes(workflow, nodes)
        ctx = FlyteContextManager.current_context()
        message = literals_pb2.LiteralMap()
        message.ParseFromString(inputs.read_bytes())
        kwargs = TypeEngine.literal_map_to_kwargs(
            ctx, LiteralMap.from_flyte_idl(message), workflow.python_interface.inputs
        )
        try:
            result = workflow(**kwargs)
        finally:
            nodes.finish()
        names = list(workflow.python_interface.outputs)
        values = (
            {}
            if not names
            else {names[0]: result}
            if len(names) == 1
            else dict(zip(names, result, strict=True))
        )
        literal_map = TypeEngine.dict_to_literal_map(ctx, values, workflow.python_interface.outputs)
        (output_prefix / "outputs.pb").write_bytes(literal_map.to_flyte_idl().SerializeToString())
    except Exception as exc:  # noqa: BLE001 - any failure of user code becomes error.pb
        text = "".join(traceback.format_exception(exc))
        print(text, flush=True)  # noqa: T201 - goes to the run's log
        document = errors_pb2.ErrorDocument(
            error=errors_pb2.ContainerError(
                code="USER:WorkflowError",
                message=f"{type(exc).__name__}: {exc}\n\n{text}",
                kind=errors_pb2.ContainerError.NON_RECOVERABLE,
            )
        )
        (output_prefix / "error.pb").write_bytes(document.SerializeToString())


def track_nodes(workflow: Any, log: NodeLog) -> None:
    """Record each node of ``workflow`` in ``log`` as flytekit's local execution runs it.

    The nodes are planned in the order the workflow compiled them; flytekit then calls each
    node's entity (``entity.local_execute``) in that order, so the k-th call of an entity is
    its k-th node. A call that has no node (a dynamic fan-out) is added as it comes.
    """
    waiting: dict[int, list[Node]] = defaultdict(list)
    for node in getattr(workflow, "nodes", None) or ():
        entity = getattr(node, "flyte_entity", None)
        if entity is None or not hasattr(entity, "local_execute"):
            continue
        planned = log.plan(node.id, _short(entity), str(entity.name), _kind(entity))
        waiting[id(entity)].append(planned)
    for entity in {id(n.flyte_entity): n.flyte_entity for n in workflow.nodes}.values():
        if hasattr(entity, "local_execute") and "local_execute" not in vars(entity):
            _wrap(entity, waiting[id(entity)], log)
    log.write()  # the planned nodes, before the first starts


def _wrap(entity: Any, queue: list[Node], log: NodeLog) -> None:
    original = entity.local_execute

    def local_execute(ctx: Any, **kwargs: Any) -> Any:
        # a call inside a running node (a sub-workflow's own) is not one of the top nodes
        node = (
            queue.pop(0)
            if queue and not log.running
            else log.found(_short(entity), str(entity.name), _kind(entity))
        )
        log.start(node, {k: _text(ctx, entity, "inputs", k, v) for k, v in kwargs.items()})
        try:
            result = original(ctx, **kwargs)
        except BaseException as exc:
            log.fail(node, "".join(traceback.format_exception(exc)))  # frames map to cells
            raise
        log.succeed(node, _outputs(ctx, entity, result))
        return result

    entity.local_execute = local_execute  # this instance only: flytekit calls it by attribute


def _short(entity: Any) -> str:
    return str(entity.name).rpartition(".")[2]


def _kind(entity: Any) -> str:
    from flytekit.core.workflow import WorkflowBase

    return "workflow" if isinstance(entity, WorkflowBase) else "task"


def _outputs(ctx: Any, entity: Any, result: Any) -> dict[str, str]:
    names = list(entity.python_interface.outputs)
    if not names or result is None:
        return {}
    values = [result] if len(names) == 1 and not isinstance(result, tuple) else list(result)
    return {
        name: _text(ctx, entity, "outputs", name, value)
        for name, value in zip(names, values, strict=False)
    }


def _text(ctx: Any, entity: Any, side: str, name: str, value: Any) -> str:
    """A node's input or output as text: the Python value of a promise's literal, else repr."""
    literal = getattr(value, "val", None)
    if literal is None or not hasattr(literal, "to_flyte_idl"):
        return value_text(value)
    python_type = getattr(entity.python_interface, side).get(name)
    try:
        from flytekit.core.type_engine import TypeEngine

        return value_text(TypeEngine.to_python_value(ctx, literal, python_type))
    except Exception:  # noqa: BLE001 - fall back to the literal's own text
        from flyte_jupyter.sdk.literals import clip, literal_text

        return clip(literal_text(literal.to_flyte_idl()))


def main() -> None:
    """Command line: ``--module M --name W --inputs FILE --output-prefix DIR``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--module", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--inputs", type=Path, required=True)
    parser.add_argument("--output-prefix", type=Path, required=True)
    args = parser.parse_args()
    run(args.module, args.name, args.inputs, args.output_prefix)


if __name__ == "__main__":
    main()
