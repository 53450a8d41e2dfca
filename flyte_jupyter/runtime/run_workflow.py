"""Run a workflow of the extracted bundle with flytekit's local execution.

Run under ``pyflyte-fast-execute --additional-distribution URI --dest-dir . -- python -m
flyte_jupyter.runtime.run_workflow ...``: flytekit downloads and extracts the bundle into the
working folder and puts it on ``PYTHONPATH``, so the workflow is imported from the bundle,
never from the notebook's memory. Inputs and outputs are flyteidl ``LiteralMap`` files, as
for tasks; a failure is written as ``error.pb`` (an ``ErrorDocument``).
"""

from __future__ import annotations

import argparse
import importlib
import traceback
from pathlib import Path


def run(module: str, name: str, inputs: Path, output_prefix: Path) -> None:
    """Execute workflow ``module.name`` on ``inputs``; write ``outputs.pb`` or ``error.pb``."""
    from flyteidl.core import errors_pb2, literals_pb2
    from flytekit.core.context_manager import FlyteContextManager
    from flytekit.core.type_engine import TypeEngine
    from flytekit.models.literals import LiteralMap

    output_prefix.mkdir(parents=True, exist_ok=True)
    try:
        workflow = getattr(importlib.import_module(module), name)
        ctx = FlyteContextManager.current_context()
        message = literals_pb2.LiteralMap()
        message.ParseFromString(inputs.read_bytes())
        kwargs = TypeEngine.literal_map_to_kwargs(
            ctx, LiteralMap.from_flyte_idl(message), workflow.python_interface.inputs
        )
        result = workflow(**kwargs)
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
