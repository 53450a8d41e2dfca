"""``local_runs`` as a notebook user sets and sees it: %config, --local-runs, %flyte_settings."""

import pytest
from IPython.core.error import UsageError
from shell_helpers import run_cell


def rows(ip, line=""):
    return {
        key: (value, source)
        for key, value, source in ip.run_line_magic("flyte_settings", line).rows()
    }


def test_flyte_settings_shows_the_default_and_where_it_came_from(ip):
    assert rows(ip)["local_runs"] == ("warm", "default")
    view = ip.run_line_magic("flyte_settings", "")
    html = view._repr_html_()
    assert "<code>local_runs</code></td>" in html
    assert html.split("<code>local_runs</code></td>")[1].split("</td>")[0].endswith(">warm")
    assert "local_runs" in repr(view)


def test_config_then_an_option_of_the_call(ip):
    run_cell(ip, "%config FlyteJupyter.local_runs = 'exact'")
    assert rows(ip)["local_runs"] == ("exact", "%config FlyteJupyter.local_runs")
    assert rows(ip, "--local-runs warm")["local_runs"] == ("warm", "option --local-runs")


def test_env_and_pyproject(ip, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[tool.flyte_jupyter]\nlocal_runs = "exact"\n')
    assert rows(ip)["local_runs"] == ("exact", f"pyproject.toml {tmp_path / 'pyproject.toml'}")
    monkeypatch.setenv("FLYTE_JUPYTER_LOCAL_RUNS", "warm")
    assert rows(ip)["local_runs"] == ("warm", "env FLYTE_JUPYTER_LOCAL_RUNS")


def test_a_bad_value_is_a_usage_error_naming_the_choices(ip, monkeypatch):
    with pytest.raises(UsageError, match=r"--local-runs: invalid choice: 'fast'.*'warm', 'exact'"):
        ip.run_line_magic("flyte_settings", "--local-runs fast")
    monkeypatch.setenv("FLYTE_JUPYTER_LOCAL_RUNS", "fast")
    expected = "env FLYTE_JUPYTER_LOCAL_RUNS: local_runs must be one of warm, exact, got 'fast'"
    with pytest.raises(UsageError, match=expected):
        ip.run_line_magic("flyte_settings", "")


def test_a_bad_config_value_is_refused_when_settings_are_resolved(ip):
    # traitlets only logs a bad %config value; the settings then refuse it, naming the source
    ip.config.FlyteJupyter.local_runs = "fast"
    with pytest.raises(UsageError, match=r"%config FlyteJupyter.local_runs: .*warm, exact"):
        ip.run_line_magic("flyte_settings", "")


def test_flyte_run_takes_the_option_and_documents_it(ip, monkeypatch):
    import flyte_jupyter.submit

    seen = []

    def fake_launch(request, **_kwargs):
        seen.append(request.settings)
        return object()

    monkeypatch.setattr(flyte_jupyter.submit, "launch", fake_launch)
    run_cell(
        ip, "from flytekit import task\n\n@task\ndef square(x: int) -> int:\n    return x * x\n"
    )
    ip.run_line_magic("flyte_run", "--local-runs exact square(x=2)")
    ip.run_line_magic("flyte_run", "square(x=2)")
    assert [(s.local_runs, s.provenance["local_runs"]) for s in seen] == [
        ("exact", "option --local-runs"),
        ("warm", "default"),
    ]
    assert "--local-runs" in ip.find_line_magic("flyte_run").__doc__
    assert "--local-runs" not in ip.find_line_magic("flyte_bundle").__doc__  # it runs nothing
