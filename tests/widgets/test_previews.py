"""The serialization view and the bundle preview: real bundling and serialization, no upload."""

import html
import re

from shell_helpers import run_cell

from flyte_jupyter.prepare import bucket_store_for
from flyte_jupyter.widgets.preview import tree_html

IMAGE = "ghcr.io/org/image:1.0"


def text(widget):
    return html.unescape(widget.value)


def serialized(panel):
    assert panel.serialization.wait(120)
    assert "serializing" not in panel.serialization.status.value
    return text(panel.serialization.view)


def test_serialization_view_shows_image_and_command_and_follows_edits(panel, session):
    panel.select("Serialization")
    assert panel.serialization.entity.value == "square"
    view = serialized(panel)
    assert "flytekit SerializationSettings" in view
    assert "task-module nb_my_analysis task-name square" in view
    assert "pyflyte-fast-execute --additional-distribution file://" in view
    stock = session.settings().images.default
    assert f"<code>image</code></td><td><code>{stock}</code>" in view

    # the distribution location is where the bundle WOULD be; nothing was uploaded
    digest = re.search(r"fast([0-9a-f]{64})\.tar\.gz", view).group(1)
    store = bucket_store_for(session.settings())
    assert (
        f'fast_serialization_settings.distribution_location</code></td><td><code>"{store.uri_for(digest)}"'
        in view
    )
    assert not store.exists(digest)

    panel.images.row("default").uri.value = IMAGE
    assert panel.serialization.status.value  # "serializing…" while the thread works
    view = serialized(panel)
    assert f"<code>image</code></td><td><code>{IMAGE}</code>" in view
    assert f"image_config.default_image</code></td><td><code>{IMAGE}" in view

    panel.target.domain.control.value = "staging"
    assert "<code>domain</code></td><td><code>staging</code>" in serialized(panel)


def test_serialization_view_of_a_workflow_lists_its_tasks(panel):
    panel.select("Serialization")
    panel.serialization.entity.value = "pipeline"
    view = serialized(panel)
    assert "Task <code>nb_my_analysis.square</code>" in view
    assert "task-name square" in view


def test_env_values_of_secret_looking_keys_are_redacted(panel):
    panel.code.add_row("API_TOKEN", "s3cr3t")
    panel.code.add_row("MODE", "fast")
    panel.select("Serialization")
    view = serialized(panel)
    assert "s3cr3t" not in view
    assert "API_TOKEN=***" in view
    assert "MODE=fast" in view


def test_serialization_errors_are_shown_in_the_view(panel):
    panel.code.copy_style.control.value = "none"  # square lives in the notebook
    panel.select("Serialization")
    view = serialized(panel)
    assert "flyte-jupyter-error" in panel.serialization.view.value
    assert "ships no code, but square is defined in the notebook" in view


def test_nothing_is_computed_while_the_tab_is_hidden(panel):
    panel.images.row("default").uri.value = IMAGE
    assert panel.serialization.view.value == ""
    assert panel.preview.view.value == ""


def test_bundle_preview_lists_files_dropped_excluded_and_reuse(nb, panel, tmp_path):
    (tmp_path / "helper.py").write_text("def double(v):\n    return 2 * v\n")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "util.py").write_text("K = 3\n")
    (tmp_path / ".env").write_text("TOKEN=x\n")
    # FLYTE_JUPYTER_HOME is tmp_path/home here; copy style all would ship its cache
    (tmp_path / ".flyteignore").write_text("home/\n")
    run_cell(
        nb,
        "import helper\nimport pkg.util\nprint('side effect')\n\n"
        "@task\ndef twice(x: int) -> int:\n    return helper.double(x) + pkg.util.K\n",
        cell_id="twice",
    )
    panel.select("Bundle")
    panel.preview.entity.value = "twice"
    assert panel.preview.wait(120)
    view = text(panel.preview.view)
    assert "helper.py" in view
    assert "<summary><code>pkg/</code>" in view
    assert "📁" not in view  # no emoji: drawn as empty boxes without an emoji font
    assert "util.py" in view
    assert "nb_my_analysis.py" in view
    assert "Dropped statements</b> (1)" in view
    assert "print('side effect')" in view
    assert "cell cell" not in view  # the dropped statement's cell is named once
    assert "not in the store yet: a run uploads" in view
    bundle = panel.preview.preview.bundle
    assert bundle.digest in view
    assert "def twice(x: int) -&gt; int:" in panel.preview.view.value  # escaped source

    panel.code.copy_style.control.value = "all"
    assert panel.preview.wait(120)
    view = text(panel.preview.view)
    assert "Excluded files</b>" in view
    assert ".env" in view
    assert "secret" in view.lower()
    assert "home" in [e.path.rstrip("/") for e in panel.preview.preview.bundle.excluded]

    published = nb.run_line_magic("flyte_bundle", "--copy-style all --upload twice")
    panel.preview.rebuild.click()
    assert panel.preview.wait(120)
    assert panel.preview.preview.bundle.digest == published.digest
    assert "✓ reuse: the store has it" in text(panel.preview.view)


def test_bundle_preview_for_copy_style_none(panel):
    panel.code.copy_style.control.value = "none"
    panel.select("Bundle")
    assert panel.preview.wait(120)
    assert "ships no code, but" in text(panel.preview.view)


def test_tree_html_nests_folders_with_sizes_and_escapes():
    from flyte_jupyter.bundle import ManifestEntry

    entries = (
        ManifestEntry("a/b/<x>.py", 0o644, 2048, "0" * 64),
        ManifestEntry("a/c.py", 0o644, 10, "0" * 64),
        ManifestEntry("top.py", 0o644, 5, "0" * 64),
    )
    out = tree_html(entries)
    assert "&lt;x&gt;.py" in out
    assert "<x>" not in out
    assert out.index("a/") < out.index("b/") < out.index("c.py") < out.index("top.py")
    assert "2.0 KiB" in out  # folder b/ and its file


def test_serialization_view_of_a_flyte_v2_task_shows_its_a0_command(nb, panel, monkeypatch):
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    run_cell(
        nb,
        'import flyte\n\nenv = flyte.TaskEnvironment(name="demo", image="ghcr.io/org/v2:1")\n\n'
        "@env.task\ndef cube(x: int) -> int:\n    return x ** 3\n",
        cell_id="v2",
    )
    panel.select("Serialization")
    panel.serialization.entity.value = "cube"
    view = serialized(panel)
    assert "Task <code>demo.cube</code>" in view
    assert "a0 --inputs" in view
    assert "mod nb_my_analysis instance cube" in view
    assert "<code>image</code></td><td><code>ghcr.io/org/v2:1</code>" in view
