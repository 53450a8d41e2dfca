"""Progress bars for bundling and uploading."""

import subprocess
import sys

import pytest

from flyte_jupyter.widgets.progress import MIB, LazyProgress, TransferProgress, progress_bar


def test_transfer_progress_shows_bundling_then_uploading():
    bar = TransferProgress("Launch")
    assert bar.widget.layout.display == "none"
    bar.start()
    assert bar.widget.layout.display == "flex"
    bar.update("bundle", 50 * MIB, 100 * MIB)
    assert bar.bar.value == 0.5
    assert bar.label.value == "bundling 50.0 MiB of 100.0 MiB"
    bar.update("bundle", 100 * MIB, 100 * MIB)
    bar.update("upload", 1 * MIB, 40 * MIB)  # shown at once: a new phase is never throttled
    assert bar.current == "upload"
    assert bar.label.value == "uploading 1.0 MiB of 40.0 MiB"
    bar.update("upload", 40 * MIB, 40 * MIB)
    assert bar.label.value == "uploading 40.0 MiB of 40.0 MiB"
    bar.finish("done")
    assert (bar.bar.value, bar.bar.bar_style, bar.label.value) == (1.0, "success", "done")


def test_lazy_progress_stays_hidden_for_small_fast_transfers():
    progress = LazyProgress("Upload", display=True, min_bytes=20 * MIB, min_seconds=60)
    progress.update("bundle", 1024, 2048)
    assert progress.bar is None
    progress.update("bundle", 10 * MIB, 30 * MIB)  # large: shown from now on
    assert progress.bar is not None
    assert progress.bar.bar.value == pytest.approx(1 / 3)
    progress.close(ok=True)
    assert progress.bar.bar.bar_style == "success"
    assert "30.0 MiB" in progress.bar.label.value


def test_lazy_progress_shows_slow_transfers_and_marks_failures():
    bars = []

    def fail():
        with progress_bar("Upload", display=True, min_seconds=0) as progress:
            bars.append(progress)
            progress.update("upload", 1, 10)
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail()
    assert bars[0].bar.bar.bar_style == "danger"


def test_no_frontend_no_bar():
    with progress_bar("Upload", min_bytes=0, min_seconds=0) as p:
        p.update("upload", 5, 10)
    assert p.bar is None  # plain IPython / scripts: nothing is displayed


def test_the_progress_module_and_the_package_import_no_ipywidgets():
    code = (
        "import sys, flyte_jupyter.widgets, flyte_jupyter.widgets.progress\n"
        "print('ipywidgets' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
