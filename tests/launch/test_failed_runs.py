"""A failed run fails its cell with --wait, and its traceback points at notebook cells.

Real IPython shell, real local runs (flytekit's entrypoint in the warm worker).
"""

import re
import threading
import time

import pytest
from IPython.core.error import UsageError
from shell_helpers import run_cell

from flyte_jupyter.errors import LaunchError, RunFailedError
from flyte_jupyter.launch import RunStore

pytestmark = pytest.mark.slow

BOOM = """\
from flytekit import task

@task
def boom(x: int) -> int:
    if x:
        raise ValueError(f'bad value {x}')
    return x

@task
def sleepy(s: int) -> int:
    import time
    time.sleep(s)
    return s
"""


@pytest.fixture
def nb(ip):
    # store_history: the cell gets an execution count, shown as "cell [N]" as in a notebook
    result = ip.run_cell(BOOM, store_history=True, cell_id="defs")
    result.raise_error()
    ip.user_ns["defs_count"] = result.execution_count
    return ip


def where(nb):
    return f"cell [{nb.user_ns['defs_count']}], line 6, in boom"


def test_cell_form_with_wait_fails_the_cell_and_keeps_the_run(nb, capsys):
    result = nb.run_cell("%%flyte_run --wait\nr = boom(x=4)\n", cell_id="run")
    error = result.error_in_exec
    assert isinstance(error, RunFailedError)  # not a UsageError: Run All must stop here
    message = str(error)
    first = message.splitlines()[0]
    assert first.startswith(f"Run {error.run.id} of boom (nb_my_analysis.boom) FAILED in ")
    assert where(nb) in first
    assert first.endswith("ValueError: bad value 4")
    assert f"{where(nb)} (nb_my_analysis.py, line " in message  # the frame, mapped
    assert "--no-raise" in message
    assert f"flyte_jupyter.get_run({error.run.id!r})" in message
    assert "`r` is the Run too" in message
    run = nb.user_ns["r"]
    assert run is error.run
    assert run.status == "FAILED"
    assert "bad value 4" in run.logs()
    captured = capsys.readouterr()
    out = captured.out + captured.err
    # shown as an error (IPython's, or the rich traceback flytekit installs in IPython)
    assert "RunFailedError" in out
    assert "bad value 4" in out
    assert "ValueError: bad value 4" in "".join(error._render_traceback_())


def test_line_form_with_wait_raises_and_no_raise_returns_the_failed_run(nb):
    with pytest.raises(RunFailedError, match="ValueError: bad value 2") as info:
        nb.run_line_magic("flyte_run", "--wait boom(x=2)")
    assert info.value.run.status == "FAILED"
    assert "`r` is the Run" not in str(info.value)
    run = nb.run_line_magic("flyte_run", "--wait --no-raise boom(x=3)")
    assert run.status == "FAILED"
    result = nb.run_cell("%%flyte_run --wait --no-raise\nr2 = boom(x=5)\n")
    assert result.error_in_exec is None
    assert nb.user_ns["r2"].status == "FAILED"


def test_an_assigned_line_magic_binds_the_failed_run_too(nb):
    nb.user_ns["r3"] = "an older value"
    result = nb.run_cell("r3 = %flyte_run --wait boom(x=6)", store_history=True)
    error = result.error_in_exec
    assert isinstance(error, RunFailedError)
    assert nb.user_ns["r3"] is error.run  # not the older value: the Run of this cell
    assert "`r3` is the Run too" in str(error)
    result = nb.run_cell("r4 = %flyte_run --wait boom(x=0)", store_history=True)
    assert result.error_in_exec is None
    assert nb.user_ns["r4"].outputs == 0


def test_without_wait_nothing_is_raised_and_a_success_is_quiet(nb):
    run = nb.run_line_magic("flyte_run", "boom(x=1)")  # returns at once, as before
    assert run.wait(timeout=120).status == "FAILED"
    run_cell(nb, "%%flyte_run --wait\nok = boom(x=0)\n")
    assert nb.user_ns["ok"].outputs == 0


def test_the_runs_error_and_display_name_the_cell(nb, tmp_path):
    run = nb.run_line_magic("flyte_run", "--wait --no-raise boom(x=4)")
    bundle = nb.run_line_magic("flyte_bundle", "boom")
    line = bundle.source.splitlines().index("        raise ValueError(f'bad value {x}')") + 1
    assert f"{where(nb)} (nb_my_analysis.py, line {line})" in run.error
    assert f'nb_my_analysis.py", line {line}' not in run.error
    assert where(nb) in run._repr_html_()
    # the run store keeps the run's own text, and the mapping next to it
    record = RunStore(tmp_path / "home" / "runs.sqlite").get(run.id)
    assert f'nb_my_analysis.py", line {line}, in boom' in record.error
    origins = record.extra["cell_origins"]
    assert origins["file"] == "nb_my_analysis.py"
    start, label, cell_line = max(o for o in origins["lines"] if o[0] <= line)
    assert (label, cell_line + line - start) == (f"cell [{nb.user_ns['defs_count']}]", 6)
    with pytest.raises(RunFailedError, match="bad value 4") as info:
        _ = run.outputs
    assert where(nb) in str(info.value)


def test_wait_raise_on_failure_covers_an_aborted_run(nb):
    run = nb.run_line_magic("flyte_run", "sleepy(s=60)")
    threading.Timer(1.0, run.cancel).start()
    started = time.monotonic()
    with pytest.raises(RunFailedError, match="ABORTED") as info:
        run.wait(timeout=120, raise_on_failure=True)
    assert time.monotonic() - started < 60
    assert info.value.run is run
    assert isinstance(info.value, LaunchError)
    assert run.wait() is run  # the default stays: wait() returns the run, whatever its end


def test_a_failed_run_in_a_run_all_stops_the_next_cells(nb):
    cells = ["%%flyte_run --wait\nr = boom(x=4)\n", "after = 1\n"]
    for cell in cells:  # what a notebook front end does: stop at the first error
        result = nb.run_cell(cell)
        if not result.success:
            break
    assert "after" not in nb.user_ns
    assert not isinstance(result.error_in_exec, UsageError)


def test_the_error_shows_as_its_message_and_the_handler_leaves_others_alone(ip, capsys):
    import sys

    from flyte_jupyter.errors import RunFailedError as Error

    ip.user_ns["Error"] = Error
    result = ip.run_cell(
        "def deep():\n    raise Error('Run f1 of t FAILED: ValueError: x', None)\ndeep()"
    )
    assert isinstance(result.error_in_exec, Error)
    captured = capsys.readouterr()
    shown = re.sub(r"\x1b\[[0-9;]*m", "", captured.out + captured.err)
    assert "RunFailedError: Run f1 of t FAILED: ValueError: x" in shown
    assert "deep()" not in shown  # no frames: the message is what matters
    assert sys.last_value is result.error_in_exec  # sys.last_value.run reaches the Run
    ip.run_line_magic("unload_ext", "flyte_jupyter")
    assert ip.custom_exceptions == ()
    # a handler the user set is never replaced
    ip.set_custom_exc((KeyError,), lambda *_, **__: ["mine"])
    ip.run_line_magic("load_ext", "flyte_jupyter")
    assert ip.custom_exceptions == (KeyError,)
    ip.run_line_magic("unload_ext", "flyte_jupyter")
    assert ip.custom_exceptions == (KeyError,)
    ip.set_custom_exc((), None)
    ip.run_line_magic("load_ext", "flyte_jupyter")
    assert ip.custom_exceptions == (Error,)


def test_a_flyte_v2_run_names_the_cell_from_its_log(ip, monkeypatch):
    # flyte v2's error document has the message only; the traceback is in the run's log
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    result = ip.run_cell(
        "import flyte\nenv = flyte.TaskEnvironment(name='demo')\n\n@env.task\n"
        "def boom(x: int) -> int:\n    if x:\n        raise ValueError(f'bad value {x}')\n"
        "    return x\n",
        store_history=True,
    )
    result.raise_error()
    label = f"cell [{result.execution_count}], line 7"
    with pytest.raises(RunFailedError) as info:
        ip.run_line_magic("flyte_run", "--wait boom(x=4)")
    message = str(info.value)
    first = message.splitlines()[0]
    assert f"FAILED in {label}" in first  # ", in boom" too, unless the log wrapped the line
    assert first.endswith(": bad value 4")
    assert f"    {label}" in message  # the frame, under the first line


def test_no_raise_without_wait_is_refused_and_launches_nothing(nb, tmp_path):
    with pytest.raises(UsageError, match=r"--no-raise only applies with --wait"):
        nb.run_line_magic("flyte_run", "--no-raise boom(x=1)")
    assert RunStore(tmp_path / "home" / "runs.sqlite").list() == []
