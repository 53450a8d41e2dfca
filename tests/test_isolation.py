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
