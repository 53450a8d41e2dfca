"""A panel never shows settings its kernel no longer has (issue 13, item 7).

A widget of an ended kernel cannot update, so before the kernel ends (atexit) each open panel
says it is disconnected and hides its values; a new panel reads the new kernel's settings.
"""

from shell_helpers import run_cell

from flyte_jupyter.widgets import panel as panel_module


def test_when_the_kernel_ends_open_panels_say_they_are_disconnected(nb, panel):
    assert panel in panel_module._OPEN.panels()
    panel_module._OPEN.kernel_stopped()  # what atexit does as the kernel ends

    assert panel.disconnected == "the kernel stopped"
    assert "Disconnected: the kernel stopped at" in panel.summary.value
    assert "%flyte_panel" in panel.summary.value
    assert "flytesnacks" not in panel.summary.value  # the project it showed
    assert panel.tabs.layout.display == "none"  # the stale values are not shown
    assert panel.refresh_button.disabled
    assert panel.reset_button.disabled
    assert panel not in panel_module._OPEN.panels()
    panel._repr_mimebundle_()  # shown again: stays disconnected, reads nothing
    assert panel.disconnected

    fresh = nb.run_line_magic("flyte_panel", "")
    try:
        assert fresh.disconnected is None
        assert fresh.tabs.layout.display != "none"
        run_cell(nb, "%config FlyteJupyter.domain = 'production'")
        assert fresh.target.domain.control.value == "production"
    finally:
        fresh.close()


def test_a_closed_panel_is_not_marked_at_exit(nb):
    shown = nb.run_line_magic("flyte_panel", "")
    shown.close()
    assert shown not in panel_module._OPEN.panels()
