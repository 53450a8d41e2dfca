"""``%%flyte_run``: split the cell, run its definitions, launch its final call."""

from __future__ import annotations

import ast
import builtins
import shlex
from typing import TYPE_CHECKING, Any, NamedTuple

from IPython.core.error import UsageError

from flyte_jupyter._usage import parse_options, show_help, usage_errors

if TYPE_CHECKING:
    import argparse

    from IPython.core.interactiveshell import InteractiveShell

    from flyte_jupyter.launch import Run
    from flyte_jupyter.magics import FlyteMagics

_HOW = (
    "End the cell with a call of a task or workflow, inputs by name: "
    "square(x=7) or r = square(x=7)."
)


class Parsed(NamedTuple):
    """What a ``%flyte_run`` line or cell asks for."""

    args: argparse.Namespace
    call: ast.Call
    target: str | None  # the name ``r = square(x=7)`` binds the Run to


def split_line(line: str) -> tuple[str, str | None]:
    """Split ``[options] call(...)`` of the line form into options and the call text."""
    stripped = line.strip()
    if not stripped or stripped.endswith(")") is False:
        return stripped, None
    positions = [0] + [i + 1 for i, ch in enumerate(stripped) if ch.isspace()]
    for start in positions:
        candidate = stripped[start:].strip()
        if not candidate or candidate.startswith("-"):
            continue
        try:
            node = ast.parse(candidate, mode="eval").body
        except SyntaxError:
            continue
        if isinstance(node, ast.Call):
            try:
                shlex.split(stripped[:start])
            except ValueError:
                continue
            return stripped[:start], candidate
    return stripped, None


def split_cell(cell: str) -> tuple[str, ast.Call, str | None]:
    """The cell's definitions, its final call, and the name the call is assigned to."""
    try:
        tree = ast.parse(cell)
    except SyntaxError as exc:
        msg = f"The cell has a syntax error at line {exc.lineno}: {exc.msg}"
        raise UsageError(msg) from exc
    if not tree.body:
        raise UsageError(f"The cell is empty. {_HOW}")
    last = tree.body[-1]
    target = None
    value: ast.expr | None = None
    if isinstance(last, ast.Expr):
        value = last.value
    elif (
        isinstance(last, ast.Assign)
        and len(last.targets) == 1
        and isinstance(last.targets[0], ast.Name)
    ):
        target, value = last.targets[0].id, last.value
    if not isinstance(value, ast.Call):
        code = ast.get_source_segment(cell, last) or ast.unparse(last)
        msg = f"The last statement, `{code.strip()}`, is not a call. {_HOW}"
        raise UsageError(msg)
    lines = cell.splitlines(keepends=True)
    body = "".join(lines[: last.lineno - 1])
    return body, value, target


def run_definitions(ip: InteractiveShell, body: str) -> None:
    """Run the cell's definitions in the notebook namespace, as a plain cell would.

    The code goes through IPython's caching compiler so ``inspect.getsource`` (which flytekit
    uses on task functions) finds it, exactly as for a cell run normally.
    """
    transformed = ip.transform_cell(body)
    filename = ip.compile.cache(transformed, ip.execution_count, raw_code=body)
    code = compile(transformed, filename, "exec", flags=ip.compile.flags, dont_inherit=True)
    exec(code, ip.user_global_ns, ip.user_ns)  # noqa: S102 - the user's own cell


def evaluate_call(ip: InteractiveShell, call: ast.Call) -> tuple[str, Any, dict[str, Any]]:
    """Entity name, entity object and input values of the final call."""
    if not isinstance(call.func, ast.Name):
        got = ast.unparse(call.func)
        msg = f"Call the task or workflow by its name, e.g. square(x=7); got {got}."
        raise UsageError(msg)
    name = call.func.id
    entity = launchable(ip, name)
    if call.args:
        from flyte_jupyter.sdk import sdk_for
        from flyte_jupyter.sdk.inputs import positional

        interface = sdk_for(entity, name).interface(entity)
        texts = [ast.unparse(arg) for arg in call.args]
        raise UsageError(positional(name, interface, texts))
    inputs: dict[str, Any] = {}
    for keyword in call.keywords:
        # evaluate the parsed expression itself: ast.unparse recurses once per nesting level
        # and fails on a long expression (``1 + 1 + ...``) that compiles fine
        code = compile(ast.Expression(keyword.value), "<flyte_run input>", "eval")
        value = ip.ev(code)
        if keyword.arg is None:
            inputs.update(value)
        else:
            inputs[keyword.arg] = value
    return name, entity, inputs


def launchable(ip: InteractiveShell, name: str) -> Any:
    """The task or workflow ``name`` is bound to in the notebook.

    Raises
    ------
    UsageError
        ``name`` is not defined, is a Python built-in (``print``), or is not a Flyte task or
        workflow: the message says which, and what to launch instead.
    """
    from flyte_jupyter.errors import TargetError
    from flyte_jupyter.sdk import SDKS, sdk_for, undefined

    if name not in ip.user_ns:
        if hasattr(builtins, name):
            ways = " or ".join(entry.define for entry in SDKS.values())
            msg = (
                f"{name} is a Python built-in, not a Flyte task or workflow. %flyte_run "
                f"launches a task or workflow: define one with {ways}, run its cell, then "
                "call it with inputs by name, e.g. %flyte_run square(x=7)."
            )
            raise UsageError(msg)
        raise UsageError(undefined(name))
    entity = ip.user_ns[name]
    try:
        sdk_for(entity, name)
    except TargetError as exc:
        raise UsageError(str(exc)) from exc
    return entity


def parse_magic(magics: FlyteMagics, line: str, cell: str | None) -> Parsed | None:
    """Options, final call and assigned name of ``%flyte_run``/``%%flyte_run``; None: help shown.

    The cell form runs the cell's definitions (and records them) on the way.
    """
    target = None
    if cell is None:
        options, call_text = split_line(line)
        if show_help(magics.flyte_run, options):
            return None
        if call_text is None:
            raise UsageError(f"%flyte_run needs a call, e.g. %flyte_run square(x=7). {_HOW}")
        call = ast.parse(call_text, mode="eval").body
        assert isinstance(call, ast.Call)  # noqa: S101 - split_line only returns calls
    else:
        options = line
        if show_help(magics.flyte_run, options):
            return None
        body, call, target = split_cell(cell)
        if body.strip():
            session = magics.session
            run_definitions(magics.ip, body)
            session.add_cell(session.current_cell_id, body, magics.ip.execution_count)
    args = parse_options(magics.flyte_run, options)
    if args.call:
        raise UsageError(f"Unexpected text before the call: {' '.join(args.call)}")
    if args.no_raise and not args.wait:
        msg = (
            "--no-raise only applies with --wait (without --wait the cell ends as soon as the "
            "run is launched, whatever the run does): add --wait, or drop --no-raise."
        )
        raise UsageError(msg)
    return Parsed(args, call, target)


def run_magic(magics: FlyteMagics, line: str, cell: str | None) -> Any:
    """Body of ``%flyte_run`` / ``%%flyte_run``."""
    from flyte_jupyter.display import LiveRun
    from flyte_jupyter.launch import Run
    from flyte_jupyter.submit import launch
    from flyte_jupyter.widgets.progress import progress_bar

    parsed = parse_magic(magics, line, cell)
    if parsed is None:
        return None
    args, call, target = parsed
    settings = magics.settings(args)
    name, _, inputs = evaluate_call(magics.ip, call)
    with usage_errors(), progress_bar("Launching") as progress:
        request = magics.session.launch_request(settings, name, inputs)
        run = launch(request, dry_run=args.dry_run, progress=progress)
    if isinstance(run, Run):
        run = LiveRun.of(run)
    if target is not None:  # bound before a failure is raised: the Run stays at hand
        magics.ip.user_ns[target] = run
    if args.wait and isinstance(run, Run):
        if isinstance(run, LiveRun):
            run.show_while_waiting()  # elapsed time, log tail and Cancel while the cell waits
        bound = target if cell is not None else line_target(magics.ip, line)
        if bound is not None and cell is None:  # r = %flyte_run --wait ...: r is the Run too
            magics.ip.user_ns[bound] = run
        try:
            _wait(run, bound, raise_on_failure=not args.no_raise)
        finally:
            if isinstance(run, LiveRun):
                run.settle_display()
    if target is not None:
        from IPython.display import display

        display(run)
        return None
    return run


def line_target(ip: InteractiveShell, line: str) -> str | None:
    """The name ``r = %flyte_run <line>`` assigns in the running cell, if that is how it ran.

    IPython gives a line magic no say in the assignment around it, so a run that fails
    ``--wait`` would leave ``r`` unbound (or holding an older run). The running cell's source
    (the shell's input history, as transformed: ``r = get_ipython().run_line_magic(
    'flyte_run', '<line>')``) says which name it is; None when that cannot be told.
    """
    history = ip.user_ns.get("_ih") or []
    if not history:
        return None
    try:
        tree = ast.parse(history[-1])
    except SyntaxError:
        return None
    names = {
        node.targets[0].id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
        and _is_this_magic(node.value, line)
    }
    return names.pop() if len(names) == 1 else None


def _is_this_magic(node: ast.expr, line: str) -> bool:
    """True for ``get_ipython().run_line_magic('flyte_run', line)``."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
        return False
    if node.func.attr != "run_line_magic" or len(node.args) != 2:  # noqa: PLR2004 - name, line
        return False
    values = [arg.value if isinstance(arg, ast.Constant) else None for arg in node.args]
    magic, text = values
    return magic == "flyte_run" and isinstance(text, str) and text.strip() == line.strip()


def _wait(run: Run, target: str | None, *, raise_on_failure: bool) -> None:
    """Block until ``run`` ends; a FAILED/ABORTED one fails the cell unless ``--no-raise``.

    The failed run's display is shown first (its link and status), then the error, whose
    message has the run's traceback pointed at cells and says how to reach the Run.
    """
    from flyte_jupyter.errors import RunFailedError

    with usage_errors():
        try:
            run.wait()
        except KeyboardInterrupt:
            print(f"Stopped waiting; run {run.id} goes on. Call .cancel() on it to stop it.")  # noqa: T201
            return
    if not raise_on_failure:
        return
    try:
        run.check()
    except RunFailedError as exc:
        from IPython.display import display

        display(run)
        bound = f" `{target}` is the Run too." if target else ""
        hint = (
            f"{bound} The cell failed because of --wait: add --no-raise to let it end "
            "normally when its run fails."
        )
        raise RunFailedError(f"{exc}{hint}", run) from None
