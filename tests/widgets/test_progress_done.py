"""A finished progress bar says its work is done ("Launched"), not still going (issue 13)."""

from flyte_jupyter.widgets.progress import LazyProgress, TransferProgress

MIB = 1024 * 1024


def test_a_finished_bar_names_the_work_done_and_a_restart_names_it_ongoing_again():
    progress = LazyProgress("Launching", display=True, min_bytes=0)
    progress.update("upload", MIB, MIB)
    assert progress.bar.bar.description == "Launching"
    progress.close(ok=True)
    assert progress.bar.bar.description == "Launched"
    assert "1.0 MiB in" in progress.bar.label.value

    bar = TransferProgress("Launching")
    bar.start()
    bar.finish("in 0.1 s", description="Launched")
    assert bar.bar.description == "Launched"
    bar.start()
    assert bar.bar.description == "Launching"
    bar.finish("failed", ok=False, description="Launch failed")
    assert (bar.bar.description, bar.bar.bar_style) == ("Launch failed", "danger")
