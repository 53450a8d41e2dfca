"""An edit the settings refuse is never dropped silently (issue 13, item 3).

It stays in its field, marked with the message the magic gives for the same value, the panel
says it is not in effect, and Run refuses with that message instead of running with the old
settings, until the edit is fixed, Reset, or made valid by a change elsewhere.
"""

import html

import pytest
from IPython.core.error import UsageError
from shell_helpers import run_cell

from flyte_jupyter.errors import InputError

IMAGE = "ghcr.io/org/image:1.0"


def magic_message(nb, options):
    with pytest.raises(UsageError) as raised:
        nb.run_line_magic("flyte_run", f"{options} --dry-run square(x=2)")
    return str(raised.value)


def test_a_refused_project_stays_visible_and_run_refuses_with_the_magics_message(nb, panel):
    field = panel.target.project
    field.control.value = "Bad_Project"
    assert panel.state.rejected.keys() == {"project"}
    assert "Not in effect: project" in panel.error.value

    run_cell(nb, "%config FlyteJupyter.domain = 'staging'")  # the panel refreshes after a cell
    assert panel.state.settings.domain == "staging"
    assert field.control.value == "Bad_Project"  # not replaced by the old value
    assert "not a valid Flyte project" in field.error.value

    with pytest.raises(InputError) as refused:
        panel.run("square", {"x": 2})
    from_magic = magic_message(nb, "--project Bad_Project")
    panel_text = str(refused.value).splitlines()[-1]
    assert panel_text.replace("(from panel)", "(from option --project)") == from_magic
    assert "not a valid Flyte project" in panel.runner.error.value
    assert panel.runner.last_run is None  # nothing ran with the old project

    field.control.value = "good-project"
    assert panel.state.rejected == {}
    assert panel.error.value == ""
    request = panel.runner._request("square", {"x": 2})
    assert request.settings.project == "good-project"


def test_a_refused_image_stays_in_its_row_until_reset(nb, panel, session):
    row = panel.images.row("default")
    row.uri.value = "ghcr.io/org/image"  # no tag
    with pytest.raises(InputError) as refused:
        panel.run("square", {"x": 2})
    from_magic = magic_message(nb, "--image ghcr.io/org/image")
    assert str(refused.value).splitlines()[-1].removeprefix("panel: ") == from_magic.removeprefix(
        "option --image: "
    )
    panel.refresh()
    assert row.uri.value == "ghcr.io/org/image"
    assert "tag or a digest" in row.error.value

    panel.reset()
    assert panel.state.rejected == {}
    assert panel.images.row("default").uri.value == ""
    assert panel.images.row("default").error.value == ""
    assert session.panel == {}
    panel.images.row("default").uri.value = IMAGE
    assert session.panel == {"images": [IMAGE]}


def test_a_half_typed_ref_is_not_in_effect_and_says_so_at_run(panel):
    row = panel.images.add_row()
    row.name.value = "spark"
    with pytest.raises(InputError, match="Give both a name and a URI"):
        panel.run("square", {"x": 2})
    row.uri.value = "ghcr.io/org/spark:3.5"
    assert "images" not in panel.state.rejected


def test_a_refused_root_dir_is_taken_once_it_exists(panel, tmp_path):
    target = tmp_path / "later"
    panel.code.root_dir.control.value = str(target)
    assert "does not exist" in panel.code.root_dir.error.value
    assert "root_dir" in panel.state.rejected
    target.mkdir()
    panel.refresh()  # as Refresh does (and the panel after a cell that changed settings)
    assert panel.state.rejected == {}
    assert panel.state.settings.root_dir == target
    assert panel.code.root_dir.error.value == ""


def test_the_env_button_says_what_it_adds(panel):
    button = panel.code.add_env
    assert button.description == "Add env variable"
    assert "environment variable" in button.tooltip
    assert "Environment" in panel.code.env_label.value


def settle(condition, timeout=60.0):
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_run_from_the_panel_is_shown_live_and_can_be_cancelled(nb, panel):
    run_cell(
        nb,
        """
        import time

        @task
        def slow(n: int) -> int:
            for i in range(n):
                print(f"tick {i}", flush=True)
                time.sleep(0.2)
            return n
        """,
    )
    run = panel.run("slow", {"n": 300})
    assert panel.runner.progress.bar.description == "Launched"  # not "Launching" any more
    settle(lambda: "tick 1" in panel.runner.status.value)
    status = panel.runner.status.value
    assert "running for" in status
    assert "status as of" in status
    assert panel.runner.cancel_button.layout.display == "flex"
    panel.runner.cancel_button.click()  # asks first
    assert panel.runner.cancel_button.description == "Click again to cancel"
    panel.runner.cancel_button.click()
    settle(lambda: run.record.done)
    assert run.status == "ABORTED"
    settle(lambda: "ABORTED" in panel.runner.status.value)
    settle(lambda: panel.runner.cancel_button.layout.display == "none")
    assert "running for" not in panel.runner.status.value


def test_a_named_image_without_a_default_is_flagged_when_added_not_only_at_run(nb, panel):
    row = panel.images.add_row("spark", "ghcr.io/acme/spark:3.5")
    warning = panel.images.warning.value
    assert "no default image" in warning
    with pytest.raises(UsageError) as from_magic:
        nb.run_line_magic("flyte_run", "--image spark=ghcr.io/acme/spark:3.5 square(x=2)")
    # the same refusal the magic gives (its origin is the option, here the panel)
    expected = str(from_magic.value).replace("from option --image", "from panel")
    assert expected in html.unescape(warning)
    panel.images.row("default").uri.value = IMAGE
    assert panel.images.warning.value == ""
    assert row.error.value == ""
