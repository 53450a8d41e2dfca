"""The module name follows the notebook: JupyterLab renames, VS Code, nbconvert, nbclient.

JupyterLab's side (labextension/src/notebookpath.ts) is played here by jupyter_client: it finds
the comm the kernel opened when the extension was loaded and sends ``{"path": ...}`` on it, as
the extension does on open and on each rename. The browser test does the real rename.
"""

from __future__ import annotations

import re

import nbformat
import pytest
from nbclient import NotebookClient

from flyte_jupyter._kernel import NOTEBOOK_COMM

pytestmark = pytest.mark.slow

TASK = """from flytekit import task

@task
def square(x: int) -> int:
    return x * x
"""
SESSION = "get_ipython().magics_manager.registry['FlyteMagics'].session"


def tell_path(kernel, path: str) -> None:
    """What the JupyterLab extension does: send the notebook's path on the kernel's comm."""
    kc = kernel.kc
    msg_id = kc.comm_info(target_name=NOTEBOOK_COMM)
    while True:
        reply = kc.get_shell_msg(timeout=30)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    comms = reply["content"]["comms"]
    assert len(comms) == 1, comms  # opened by %load_ext flyte_jupyter
    (comm_id,) = comms
    message = kc.session.msg("comm_msg", {"comm_id": comm_id, "data": {"path": path}})
    kc.shell_channel.send(message)


def module_of(kernel) -> tuple[str, str]:
    """The module name in use and where it came from, as ``%flyte_settings`` shows them."""
    settings = f"{SESSION}.settings()"
    name = kernel.evaluate(f"{settings}.module_name")
    return name, kernel.evaluate(f"{settings}.provenance['module_name']")


def test_a_renamed_notebook_gives_its_new_name_to_the_next_run(lab_kernel_factory, tmp_path):
    kernel = lab_kernel_factory(tmp_path, "Untitled.ipynb")
    kernel.ok(TASK, "task")
    # before the extension says anything: the path at kernel start
    name, source = module_of(kernel)
    assert name == "nb_untitled"
    assert "at kernel start" in source

    tell_path(kernel, "Untitled.ipynb")  # on open
    tell_path(kernel, "analysis/Daily Report.ipynb")  # renamed and moved in JupyterLab
    assert module_of(kernel) == (
        "nb_daily_report",
        "notebook name (JupyterLab: the notebook's current path)",
    )
    # the root was learnt from the first report: the new path is absolute, under it
    notebook = kernel.evaluate(f"{SESSION}.notebook")
    assert notebook == str(tmp_path / "analysis" / "Daily Report.ipynb")
    bundle = kernel.bundle("square", "probe")
    assert bundle.module == "nb_daily_report"
    # %flyte_settings shows the name in use and where it came from
    shown = kernel.ok("%flyte_settings", "settings").text
    assert "nb_daily_report" in shown
    assert "(not set)" not in next(line for line in shown.splitlines() if "module_name" in line)


def test_vs_code_names_its_notebook(lab_kernel_factory, tmp_path):
    kernel = lab_kernel_factory(tmp_path, "Untitled.ipynb")
    kernel.ok(f"__vsc_ipynb_file__ = {str(tmp_path / 'From Code.ipynb')!r}", "vsc")
    assert module_of(kernel) == ("nb_from_code", "notebook name (VS Code (__vsc_ipynb_file__))")


def test_nbclient_names_no_notebook_and_settings_say_so(kit, tmp_path):
    nb = kit.make_notebook(["%load_ext flyte_jupyter", "%flyte_settings"])
    path = tmp_path / "report.ipynb"
    nbformat.write(nb, path)
    env = kit.kernel_env(tmp_path / "home", None)  # as nbclient runs it: no session name
    client = NotebookClient(
        nbformat.read(path, as_version=4),
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    done = client.execute(env=env)
    shown = kit.cell_text(done.cells[1])
    line = next(line for line in shown.splitlines() if line.startswith("module_name"))
    assert "nb_notebook" in line
    assert "no client named the notebook" in line


def _nbconvert(kit, tmp_path, *names):
    import subprocess
    import sys

    for name in names:
        nbformat.write(
            kit.make_notebook(["%load_ext flyte_jupyter", "%flyte_settings"]), tmp_path / name
        )
    env = kit.kernel_env(tmp_path / "home", None)  # nbconvert tells its kernel no name
    proc = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--execute", "--to", "markdown", "--stdout", *names],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    # %flyte_settings' table, as nbconvert's markdown keeps it: the module_name row
    row = r"<code>module_name</code></td><td[^>]*>([^<]*)</td><td[^>]*>([^<]*)</td>"
    return [f"{name} ({source})" for name, source in re.findall(row, proc.stdout)]


def test_nbconvert_of_one_notebook_names_it_from_its_command_line(kit, tmp_path):
    (line,) = _nbconvert(kit, tmp_path, "Weekly Report.ipynb")
    assert "nb_weekly_report" in line
    assert "the command line of nbconvert" in line


def test_nbconvert_of_several_notebooks_names_none(kit, tmp_path):
    lines = _nbconvert(kit, tmp_path, "a.ipynb", "b.ipynb")
    assert len(lines) == 2
    assert all("nb_notebook" in line for line in lines)


def test_sessions_stop_following_only_their_own_comm_target():
    import comm

    from flyte_jupyter._kernel import follow_notebook

    heard: list[str] = []
    stop_first = follow_notebook(heard.append)
    stop_second = follow_notebook(heard.append)  # a reloaded extension: replaces the target
    manager = comm.get_comm_manager()
    second = manager.targets[NOTEBOOK_COMM]
    stop_first()  # the first session closes later: the second keeps its target
    assert manager.targets[NOTEBOOK_COMM] is second
    stop_second()
    assert NOTEBOOK_COMM not in manager.targets
    stop_second()  # twice is harmless
