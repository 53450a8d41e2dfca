"""The suite runs its own interpreter in every kernel, whatever the machine's Jupyter set-up."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_python3_kernelspec_is_pinned_to_the_test_interpreter():
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] == sys.executable
    assert Path(spec.resource_dir).is_relative_to(Path(os.environ["JUPYTER_DATA_DIR"]))


def test_user_level_jupyter_folders_are_out_of_reach():
    from jupyter_core.paths import jupyter_config_dir, jupyter_data_dir, jupyter_path

    home = Path.home()
    for folder in (jupyter_data_dir(), jupyter_config_dir(), jupyter_path()[0]):
        assert not Path(folder).is_relative_to(home / ".local"), folder
        assert not Path(folder).is_relative_to(home / ".jupyter"), folder


def test_a_started_kernel_runs_the_test_interpreter():
    from jupyter_client.manager import start_new_kernel

    lines: list[str] = []

    def collect(msg: dict) -> None:
        if msg["msg_type"] == "stream":
            lines.extend(msg["content"]["text"].splitlines())

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        reply = kc.execute_interactive(
            "import sys; print(sys.executable)", timeout=60, output_hook=collect
        )
        assert reply["content"]["status"] == "ok"
        assert lines == [sys.executable]
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def test_jupyterlab_finds_the_widget_manager_wherever_ipywidgets_is_installed():
    """In a venv over the image's site-packages, jupyterlab_widgets may live in the base install.

    Its labextension is then under the base prefix, which jupyter_core leaves out of a venv's
    data path: without it the panel renders as ``VBox(...)`` text in JupyterLab.
    """
    import jupyterlab_widgets
    from jupyter_core.paths import jupyter_path
    from jupyterlab_server.config import get_federated_extensions

    found = get_federated_extensions(jupyter_path("labextensions"))
    assert "@jupyter-widgets/jupyterlab-manager" in found, jupyterlab_widgets.__file__
    assert "flyte-jupyter" in found
    # this checkout's own build wins over any other install of flyte_jupyter's labextension
    assert Path(found["flyte-jupyter"]["ext_dir"]).is_relative_to(Path(sys.prefix))
