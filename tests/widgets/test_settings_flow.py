"""The panel edits the settings the session use, and shows what %config and friends change."""

import pytest
from IPython.core.error import UsageError
from shell_helpers import run_cell

from flyte_jupyter.errors import FlyteJupyterError
from flyte_jupyter.widgets import FlytePanel

IMAGE = "ghcr.io/org/image:1.0"
SPARK = "ghcr.io/org/spark:3.5"


def test_the_magic_returns_a_panel_with_a_cheap_repr(panel):
    assert isinstance(panel, FlytePanel)
    assert repr(panel) == "FlytePanel(project='flytesnacks', domain='development', backend='local')"
    assert list(panel.tabs.titles) == [
        "Target",
        "Images",
        "Code",
        "Serialization",
        "Bundle",
        "Run",
        "Runs",
    ]
    assert panel.target.domain.control.options == ("development", "staging", "production")
    assert all(
        c.description
        for c in (
            panel.target.project.control,
            panel.target.domain.control,
            panel.target.backend.control,
            panel.target.local_runs.control,
            panel.target.store.control,
            panel.code.copy_style.control,
            panel.code.root_dir.control,
            panel.runner.entity,
            panel.runner.button,
        )
    )
    with pytest.raises(UsageError, match="takes no arguments"):
        panel.session.shell.run_line_magic("flyte_panel", "extra")


def test_edits_reach_the_magics_with_provenance_panel(nb, panel, session):
    panel.target.domain.control.value = "staging"
    panel.target.project.control.value = "analytics"
    panel.images.row("default").uri.value = IMAGE
    row = panel.images.add_row()
    row.name.value = "spark"
    row.uri.value = SPARK
    env = panel.code.add_row()
    env.key.value = "MODE"
    env.value.value = "fast"
    panel.code.copy_style.control.value = "all"

    assert session.panel == {
        "domain": "staging",
        "project": "analytics",
        "images": [IMAGE, f"spark={SPARK}"],
        "env": ["MODE=fast"],
        "copy_style": "all",
    }
    settings = session.settings()
    assert (settings.domain, settings.project, settings.copy_style) == (
        "staging",
        "analytics",
        "all",
    )
    assert settings.images.default == IMAGE
    assert dict(settings.images.named) == {"spark": SPARK}
    assert settings.env_dict == {"MODE": "fast"}
    for key in ("domain", "project", "copy_style", "images.default", "images.spark", "env.MODE"):
        assert settings.provenance[key] == "panel", key
    assert "from panel" in panel.target.domain.source.value

    view = nb.run_line_magic("flyte_settings", "")
    rows = {key: (value, source) for key, value, source in view.rows()}
    assert rows["domain"] == ("staging", "panel")
    assert rows["images.spark"] == (SPARK, "panel")

    dry = run_cell(nb, "%%flyte_run --dry-run --copy-style auto\nsquare(x=3)\n", cell_id="dry")
    container = dry.serialized.task_spec("square").template.container
    assert container.image == IMAGE
    assert {e.key: e.value for e in container.env} == {"MODE": "fast"}
    assert dry.serialized.task_spec("square").template.id.domain == "staging"


def test_local_runs_from_the_panel_and_from_config(nb, panel, session):
    control = panel.target.local_runs.control
    assert (control.value, list(control.options)) == ("warm", ["warm", "exact"])
    control.value = "exact"
    assert session.panel == {"local_runs": "exact"}
    view = nb.run_line_magic("flyte_settings", "")
    assert {k: (v, s) for k, v, s in view.rows()}["local_runs"] == ("exact", "panel")
    assert nb.run_line_magic("flyte_settings", "--local-runs warm").settings.local_runs == "warm"
    control.value = "warm"  # the layers below say warm: nothing pinned
    assert session.panel == {}

    run_cell(nb, "%config FlyteJupyter.local_runs = 'exact'")
    assert control.value == "exact"
    assert "%config FlyteJupyter.local_runs" in panel.target.local_runs.source.value
    assert not control.disabled
    run_cell(nb, "%config FlyteJupyter.backend = 'remote'")
    assert control.disabled  # the remote backend ignores it


def test_an_option_of_the_magic_still_wins_over_the_panel(nb, panel):
    panel.target.domain.control.value = "staging"
    dry = run_cell(nb, "%%flyte_run --dry-run --domain production\nsquare(x=3)\n")
    assert dry.serialized.task_spec("square").template.id.domain == "production"


def test_a_value_equal_to_the_layers_below_is_not_pinned(panel, session):
    panel.target.domain.control.value = "staging"
    assert session.panel == {"domain": "staging"}
    panel.target.domain.control.value = "development"
    assert session.panel == {}
    panel.target.project.control.value = "other"
    panel.target.project.control.value = ""  # empty: back to the layers below
    assert session.panel == {}
    assert panel.target.project.control.value == "flytesnacks"


def test_config_changes_show_after_the_next_cell(nb, panel):
    run_cell(nb, "%config FlyteJupyter.project = 'from-config'")
    assert panel.target.project.control.value == "from-config"
    assert "%config FlyteJupyter.project" in panel.target.project.source.value

    run_cell(nb, "%config FlyteJupyter.domains = ['dev', 'prod']")
    run_cell(nb, "%config FlyteJupyter.domain = 'prod'")
    assert panel.target.domain.control.options == ("dev", "prod")
    assert panel.target.domain.control.value == "prod"

    run_cell(nb, f"%config FlyteJupyter.images = ['{IMAGE}', 'gpu=ghcr.io/org/gpu:2']")
    assert panel.images.row("gpu").uri.value == "ghcr.io/org/gpu:2"
    assert panel.images.row("default").uri.value == IMAGE


def test_refresh_button_and_redisplay_read_the_sources_again(nb, panel, monkeypatch):
    nb.config.FlyteJupyter.project = "quiet-change"  # no cell ran: no hook
    assert panel.target.project.control.value == "flytesnacks"
    panel.refresh_button.click()
    assert panel.target.project.control.value == "quiet-change"
    monkeypatch.setenv("FLYTE_JUPYTER_PROJECT", "from-env")
    nb.config.FlyteJupyter.pop("project")
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert panel.target.project.control.value == "from-env"


@pytest.mark.usefixtures("panel")  # whose cell hook is under test
def test_plain_cells_do_no_settings_work(nb, session, monkeypatch):
    calls = []
    original = session.settings
    monkeypatch.setattr(session, "settings", lambda *a: calls.append(a) or original(*a))
    run_cell(nb, "y = 1 + 1")
    assert calls == []


def test_a_bad_value_is_shown_next_to_its_field_and_nothing_changes(panel, session):
    panel.target.domain.control.value = "staging"
    before = session.settings()

    panel.target.project.control.value = "Bad_Project"
    assert "not a valid Flyte project" in panel.target.project.error.value
    assert "Bad_Project" in panel.target.project.error.value
    assert session.panel == {"domain": "staging"}

    panel.images.row("default").uri.value = "ghcr.io/org/image"  # no tag
    error = panel.images.row("default").error.value
    assert "is not valid" in error
    assert "tag or a digest" in error
    assert session.panel == {"domain": "staging"}

    panel.code.root_dir.control.value = "/does/not/exist"
    assert "does not exist" in panel.code.root_dir.error.value
    assert session.panel == {"domain": "staging"}
    assert session.settings() == before


def test_a_named_ref_without_a_default_is_kept_and_refused_for_flytekit_as_by_the_magics(
    nb, panel, session
):
    row = panel.images.add_row()
    row.name.value = "spark"
    assert "both a name and a URI" in row.error.value  # half-typed: not applied
    row.uri.value = SPARK
    assert session.panel["images"] == [f"spark={SPARK}"]  # kept: flyte v2 needs no default
    with pytest.raises(FlyteJupyterError, match="no default image") as from_panel:
        panel.run("square", {"x": 2})
    assert "no default image" in panel.runner.error.value  # shown, not dropped
    with pytest.raises(UsageError, match="no default image") as from_magic:
        nb.run_line_magic("flyte_run", "square(x=2)")
    assert str(from_magic.value) == str(from_panel.value)
    panel.images.row("default").uri.value = IMAGE
    assert session.panel["images"] == [IMAGE, f"spark={SPARK}"]


def test_known_images_fill_in_the_uri(panel, session):
    row = panel.images.row("default")
    labels = [label for label, _ in row.known.options]
    assert any("flytekit default (py3.11)" in label for label in labels)
    assert any("flytekit default (py3.12)" in label for label in labels)
    uri = next(v for label, v in row.known.options if "py3.12" in label)
    row.known.value = uri
    assert row.uri.value == uri
    assert row.known.value == ""
    assert session.settings().images.default == uri


def test_refs_from_the_panel_can_be_removed_those_from_config_cannot(nb, panel, session):
    run_cell(nb, f"%config FlyteJupyter.images = ['{IMAGE}', 'gpu=ghcr.io/org/gpu:2']")
    row = panel.images.add_row("spark", SPARK)
    assert session.panel["images"] == [f"spark={SPARK}"]  # only what differs from %config
    row.remove.click()
    assert "images" not in session.panel
    assert "spark" not in dict(session.settings().images.named)

    gpu = panel.images.row("gpu")
    gpu.remove.click()
    assert "set by %config FlyteJupyter.images" in gpu.error.value
    assert "gpu" in dict(session.settings().images.named)
    gpu.uri.value = "ghcr.io/org/gpu:3"
    assert session.panel["images"] == ["gpu=ghcr.io/org/gpu:3"]


def test_env_rows_validate_and_never_show_secrets(panel, session):
    row = panel.code.add_row()
    row.key.value = "1BAD"
    assert "not a valid variable name" in row.error.value
    assert "env" not in session.panel
    row.key.value = "API_TOKEN"
    row.value.value = "s3cr3t"
    assert session.settings().env_dict == {"API_TOKEN": "s3cr3t"}
    shown = panel.code.env_row("API_TOKEN")
    assert shown.value.value == ""  # never kept in widget state (saved with notebooks)
    assert "hidden" in shown.value.placeholder
    other = panel.code.add_row("MODE", "x")  # another edit keeps the hidden secret
    assert session.settings().env_dict == {"API_TOKEN": "s3cr3t", "MODE": "x"}
    other.remove.click()
    assert session.settings().env_dict == {"API_TOKEN": "s3cr3t"}
    assert "s3cr3t" not in repr(panel.get_state())


def test_reset_forgets_the_panel_values(panel, session):
    panel.target.domain.control.value = "staging"
    panel.code.copy_style.control.value = "all"
    panel.reset_button.click()
    assert session.panel == {}
    assert panel.target.domain.control.value == "development"
    assert panel.code.copy_style.control.value == "auto"


def _offered(panel):
    return [name for _, name in panel.runner.entity.options]


def _our_hooks(nb):
    return [f for f in nb.events.callbacks["post_run_cell"] if "flyte_jupyter" in f.__module__]


def test_panels_follow_cells_through_one_hook_per_kernel_and_stop_when_closed(nb):
    assert len(_our_hooks(nb)) == 1  # the session's recorder
    first = nb.run_line_magic("flyte_panel", "")
    other = nb.run_line_magic("flyte_panel", "")
    assert len(_our_hooks(nb)) == 1  # panels listen to the session, not to IPython
    run_cell(nb, "@task\ndef cube(x: int) -> int:\n    return x ** 3\n")
    assert "cube" in _offered(first)
    first.close()
    run_cell(nb, "@task\ndef quad(x: int) -> int:\n    return x ** 4\n")
    assert "quad" not in _offered(first)  # closed: no longer following
    assert "quad" in _offered(other)
    nb.run_line_magic("unload_ext", "flyte_jupyter")
    assert _our_hooks(nb) == []
    assert other.tabs.comm is None  # the extension is gone: its panel closed itself
    nb.run_line_magic("load_ext", "flyte_jupyter")
