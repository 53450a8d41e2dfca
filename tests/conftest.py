import os

import IPython
import pytest
from IPython.testing.globalipapp import start_ipython

from flyte_jupyter.worker import POOL


def _strict_trigger(events):
    """IPython's ``EventManager.trigger``, except that a callback's exception propagates.

    IPython catches what a ``pre_run_cell``/``post_run_cell`` callback raises, prints it and
    carries on, so a crash in the cell recorder or in the panel's hook would leave every test
    green. Here it fails the ``run_cell`` that triggered it.
    """

    def trigger(event, *args, **kwargs):
        for func in events.callbacks[event][:]:
            func(*args, **kwargs)

    return trigger


@pytest.fixture(autouse=True)
def _no_warm_worker_across_tests():
    """Each test starts with the warm worker off (a kernel session turns it on) and ends it."""
    POOL.disable()
    yield
    POOL.disable()


@pytest.fixture
def ip(tmp_path, monkeypatch):
    """A real IPython shell with the extension loaded, in a fresh notebook folder."""
    monkeypatch.setenv("FLYTE_JUPYTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "My Analysis.ipynb"))
    monkeypatch.setenv("FLYTE_JUPYTER_CONFIG_CEILING", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # a kernel has its folder on sys.path
    shell = start_ipython() or IPython.get_ipython()  # None once already started
    monkeypatch.setattr(shell.events, "trigger", _strict_trigger(shell.events))
    # the shell is shared by the whole run: cells an earlier test ran with store_history=True
    # would otherwise be history here, which %load_ext records as this notebook's cells
    history = shell.history_manager
    for cells in (history.input_hist_raw, history.input_hist_parsed):
        del cells[1:]
    shell.run_line_magic("load_ext", "flyte_jupyter")
    names = set(shell.user_ns)
    environ = dict(os.environ)  # a cell's %env changes this process's environment
    yield shell
    os.environ.clear()
    os.environ.update(environ)
    shell.run_line_magic("unload_ext", "flyte_jupyter")
    shell.config.pop("FlyteJupyter", None)
    for name in set(shell.user_ns) - names:
        shell.user_ns.pop(name, None)
    shell.user_ns.pop("__session__", None)
