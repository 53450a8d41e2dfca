import IPython
import pytest
from IPython.testing.globalipapp import start_ipython


@pytest.fixture
def ip(tmp_path, monkeypatch):
    """A real IPython shell with the extension loaded, in a fresh notebook folder."""
    monkeypatch.setenv("FLYTE_JUPYTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "My Analysis.ipynb"))
    monkeypatch.setenv("FLYTE_JUPYTER_CONFIG_CEILING", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # a kernel has its folder on sys.path
    shell = start_ipython() or IPython.get_ipython()  # None once already started
    shell.run_line_magic("load_ext", "flyte_jupyter")
    names = set(shell.user_ns)
    yield shell
    shell.run_line_magic("unload_ext", "flyte_jupyter")
    shell.config.pop("FlyteJupyter", None)
    for name in set(shell.user_ns) - names:
        shell.user_ns.pop(name, None)
    shell.user_ns.pop("__session__", None)
