"""Run a flyte v2 task that calls other tasks with flyte's local mode, from the extracted bundle.

A task calling tasks needs v2's controller (queue and state services of a cluster) under
``a0``; flyte's local mode runs the sub-tasks in this process instead. The supervisor starts
it as ``python -m flyte_jupyter.runtime.run_v2_local --tgz <verified local copy> --dest . ...
--resolver <resolver> mod <module> instance <function>`` in the run's working folder: the
bundle is fetched and extracted by flyte's own code, as ``a0`` does, and the task is imported
from it, never from the notebook's memory. Inputs and outputs are the files ``a0`` reads and
writes (flyteidl2 ``Inputs``/``Outputs``, ``error.pb`` an ``ErrorDocument``), written with
flyte's own functions.

Each sub-action flyte's local mode runs (a task the task calls) is recorded in ``nodes.json``
in the run's folder (the parent of ``--outputs-path``) for the run page, through the tracker
interface flyte's local controller reports to (the one its terminal UI uses); see
:mod:`flyte_jupyter.runtime.nodes`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from flyte_jupyter.runtime.nodes import NODES_FILE, Node, NodeLog, value_text


def run(args: argparse.Namespace) -> int:
    """Run the task of ``args``; write ``outputs.pb`` or ``error.pb``. The exit code."""
    os.environ.setdefault("DO_NOT_TRACK", "1")  # no telemetry from runs this project starts
    outputs: Path = args.outputs_path
    outputs.mkdir(parents=True, exist_ok=True)

    import flyte
    from flyte._internal.runtime import io
    from flyte._internal.runtime.convert import (
        convert_from_native_to_error,
        convert_from_native_to_outputs,
        convert_inputs_to_native,
    )

    try:
        dest = args.dest.resolve()
        # before the module is imported: its top level may ask for the run's project or domain
        flyte.init(root_dir=dest, project=args.project, domain=args.domain)
        task = _load(args, dest)
        print(  # noqa: T201 - goes to the run's log, shown on the run page
            f"flyte_jupyter: running {task.name} in flyte's local mode: it calls other tasks, "
            "which run in this process.",
            flush=True,
        )
        inputs = asyncio.run(io.load_inputs(str(args.inputs)))
        kwargs = asyncio.run(convert_inputs_to_native(inputs, task.native_interface))
        runner: Any = flyte.with_runcontext(
            mode="local",
            name=args.run_name,
            raw_data_path=str(args.raw_data_path),
            project=args.project,
            domain=args.domain,
            interactive_mode=False,
        )
        if hasattr(runner, "_metadata_path"):  # sub-task files in the run's folder, not /tmp
            runner._metadata_path = str(args.run_base_dir)  # noqa: SLF001
        nodes = NodeLog(outputs.parent / NODES_FILE, "flyte")
        if hasattr(runner, "_tracker"):  # what flyte's terminal UI is told of each sub-action
            runner._tracker = NodeTracker(nodes)  # noqa: SLF001
        try:
            values = runner.run(task, **kwargs).outputs()
        finally:
            nodes.finish()
        message = asyncio.run(
            convert_from_native_to_outputs(tuple(values), task.native_interface, task.name)
        )
        asyncio.run(io.upload_outputs(message, str(outputs)))
    except Exception as exc:  # noqa: BLE001 - any failure of the task becomes error.pb
        traceback.print_exception(exc)
        error = convert_from_native_to_error(exc)
        asyncio.run(io.upload_error(error.err, str(outputs), recoverable=error.recoverable))
    return 0


class NodeTracker:
    """The tracker flyte's local controller reports sub-actions to, writing a :class:`NodeLog`.

    flyte calls it with keyword arguments only (``flyte._persistence._recorder``); arguments
    this class does not name are ignored, so a newer flyte that reports more still works.
    """

    def __init__(self, log: NodeLog) -> None:
        self.log = log
        self.actions: dict[str, Node] = {}

    def get_action(self, action_id: str) -> Node | None:
        """The node of a sub-action already reported (flyte nests children under it)."""
        return self.actions.get(action_id)

    def record_start(
        self,
        *,
        action_id: str,
        task_name: str,
        parent_id: str | None = None,
        short_name: str | None = None,
        inputs: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        """A sub-action starts."""
        parent = self.actions.get(parent_id) if parent_id else None
        name = short_name or task_name.rpartition(".")[2]
        node = self.log.found(name, task_name, "task", node_id=action_id, parent=parent)
        self.actions[action_id] = node
        self.log.start(node, {k: value_text(v) for k, v in (inputs or {}).items()})

    def record_complete(self, *, action_id: str, outputs: Any = None, **_: Any) -> None:
        """A sub-action succeeded; ``outputs`` is flyte's display form of them."""
        node = self.actions.get(action_id)
        if node is None:
            return
        if outputs is None:
            shown: dict[str, str] = {}
        elif isinstance(outputs, dict):
            shown = {str(k): v if isinstance(v, str) else value_text(v) for k, v in outputs.items()}
        else:
            shown = {"o0": outputs if isinstance(outputs, str) else value_text(outputs)}
        self.log.succeed(node, shown)

    def record_failure(self, *, action_id: str, error: str, **_: Any) -> None:
        """A sub-action failed."""
        node = self.actions.get(action_id)
        if node is not None:
            self.log.fail(node, str(error))

    def record_condition_waiting(self, **_: Any) -> None:
        """No terminal to ask: flyte then waits for the condition as without a tracker."""

    def record_log_links(self, **_: Any) -> None:
        """Log links of connector tasks are not shown yet."""


def _load(args: argparse.Namespace, dest: Path) -> Any:
    """Fetch and extract the bundle as ``a0`` does, then load the task with its resolver."""
    from flyte._internal.runtime.entrypoints import download_code_bundle, load_task
    from flyte.models import CodeBundle

    if args.tgz:
        bundle = CodeBundle(tgz=args.tgz, destination=str(dest), computed_version=args.version)
        asyncio.run(download_code_bundle(bundle))
    if str(dest) not in sys.path:
        sys.path.insert(0, str(dest))
    return load_task(args.resolver, *args.resolver_args)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (``a0``'s names for what it shares with ``a0``)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tgz", default=None)
    parser.add_argument("--dest", type=Path, default=Path())
    parser.add_argument("--version", required=True)
    parser.add_argument("--inputs", type=Path, required=True)
    parser.add_argument("--outputs-path", type=Path, required=True)
    parser.add_argument("--raw-data-path", type=Path, required=True)
    parser.add_argument("--run-base-dir", type=Path, required=True)
    parser.add_argument("--run-name", required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--domain", required=True)
    parser.add_argument("--resolver", required=True)
    parser.add_argument("resolver_args", nargs=argparse.REMAINDER)
    return parser.parse_args(argv)


def main() -> None:
    """Entry point: see :func:`parse`."""
    sys.exit(run(parse()))


if __name__ == "__main__":
    main()
