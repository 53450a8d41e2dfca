"""``local_runs``: warm by default, "exact" from any layer, and a bad value says what is allowed.

Also the words a run record's ``run_mode`` becomes on the run page and in the cell.
"""

from __future__ import annotations

import pytest

from flyte_jupyter.errors import SettingsError
from flyte_jupyter.settings import (
    FIELD_SPECS,
    RUN_MODE,
    RUN_MODE_NOTE,
    Settings,
    describe,
    describe_text,
    replace_settings,
    run_mode,
)


def test_warm_by_default(resolve):
    settings = resolve()
    assert settings.local_runs == "warm"
    assert ("local_runs", "warm", "default") in describe(settings)


def test_the_key_names_in_every_source():
    spec = FIELD_SPECS["local_runs"]
    assert (spec.env_var, spec.option, spec.choices) == (
        "FLYTE_JUPYTER_LOCAL_RUNS",
        "--local-runs",
        ("warm", "exact"),
    )


@pytest.mark.parametrize(
    ("layer", "source"),
    [
        ("pyproject", "pyproject.toml {repo}/pyproject.toml"),
        ("env", "env FLYTE_JUPYTER_LOCAL_RUNS"),
        ("traits", "%config FlyteJupyter.local_runs"),
        ("panel", "panel"),
        ("options", "option --local-runs"),
    ],
)
def test_exact_from_each_layer(resolve, environ, project_dir, write, *, layer, source):
    kwargs: dict[str, dict[str, str]] = {}
    if layer == "pyproject":
        write(project_dir / "pyproject.toml", '[tool.flyte_jupyter]\nlocal_runs = "exact"\n')
    elif layer == "env":
        environ["FLYTE_JUPYTER_LOCAL_RUNS"] = "exact"
    else:
        kwargs[layer] = {"local_runs": "exact"}
    settings = resolve(**kwargs)
    assert settings.local_runs == "exact"
    expected = source.format(repo=project_dir)
    assert settings.provenance["local_runs"] == expected
    assert ("local_runs", "exact", expected) in describe(settings)
    assert "local_runs" in describe_text(settings)


def test_a_higher_layer_wins_and_case_is_forgiven(resolve, environ, project_dir, write):
    write(project_dir / "pyproject.toml", '[tool.flyte_jupyter]\nlocal_runs = "exact"\n')
    environ["FLYTE_JUPYTER_LOCAL_RUNS"] = " Warm "
    settings = resolve()
    assert (settings.local_runs, settings.provenance["local_runs"]) == (
        "warm",
        "env FLYTE_JUPYTER_LOCAL_RUNS",
    )
    assert resolve(options={"local_runs": "EXACT"}).local_runs == "exact"


def test_replace_records_the_source(resolve):
    changed = replace_settings(resolve(), "panel", local_runs="exact")
    assert (changed.local_runs, changed.provenance["local_runs"]) == ("exact", "panel")


def _message(excinfo: pytest.ExceptionInfo[SettingsError]) -> str:
    return str(excinfo.value)


@pytest.mark.parametrize(
    ("layer", "origin"),
    [
        ("pyproject", "pyproject.toml {repo}/pyproject.toml"),
        ("env", "env FLYTE_JUPYTER_LOCAL_RUNS"),
        ("traits", "%config FlyteJupyter.local_runs"),
        ("panel", "panel"),
        ("options", "option --local-runs"),
    ],
)
def test_a_bad_value_names_the_choices_and_its_source(
    resolve, environ, project_dir, write, *, layer, origin
):
    kwargs: dict[str, dict[str, str]] = {}
    if layer == "pyproject":
        write(project_dir / "pyproject.toml", '[tool.flyte_jupyter]\nlocal_runs = "fast"\n')
    elif layer == "env":
        environ["FLYTE_JUPYTER_LOCAL_RUNS"] = "fast"
    else:
        kwargs[layer] = {"local_runs": "fast"}
    with pytest.raises(SettingsError) as excinfo:
        resolve(**kwargs)
    message = _message(excinfo)
    assert message.startswith(origin.format(repo=project_dir) + ": local_runs must be one of")
    assert "warm, exact" in message
    assert "'fast'" in message


def test_a_non_string_is_refused_too(resolve, project_dir, write):
    write(project_dir / "pyproject.toml", "[tool.flyte_jupyter]\nlocal_runs = true\n")
    with pytest.raises(SettingsError, match="must be one of warm, exact, got True"):
        resolve()


def test_direct_construction_validates():
    assert Settings(local_runs="exact").local_runs == "exact"
    with pytest.raises(SettingsError, match=r"local_runs 'fast' \(from default\) is not one of"):
        Settings(local_runs="fast")  # type: ignore[arg-type]


# -- what a run record's run_mode reads as ------------------------------------------------------


def test_warm_run():
    mode = run_mode({RUN_MODE: "warm"}, sdk="flytekit", kind="task")
    assert mode is not None
    assert mode.mode == "warm"
    assert mode.text.startswith("in the warm worker")
    assert "forked from a pre-imported interpreter" in mode.text
    assert mode.note is None


@pytest.mark.parametrize(
    ("sdk", "kind", "command"),
    [
        ("flytekit", "task", "pyflyte-fast-execute, then pyflyte-execute, each a fresh process"),
        ("flyte", "task", "flyte's a0 entrypoint in a fresh process"),
        ("flytekit", "workflow", "the container command in fresh processes"),
    ],
)
def test_exact_run_names_the_pod_command_and_the_setting(sdk, kind, command):
    mode = run_mode({RUN_MODE: "exact"}, sdk=sdk, kind=kind)
    assert mode is not None
    assert mode.text == f'as in a pod: {command} (local_runs = "exact")'


def test_a_fallback_says_why_instead_of_blaming_the_setting():
    note = "the warm worker was unavailable (it crashed); ran the pod command"
    mode = run_mode({RUN_MODE: "exact", RUN_MODE_NOTE: note}, sdk="flytekit", kind="task")
    assert mode is not None
    assert mode.text.startswith("as in a pod: pyflyte-fast-execute")
    assert "local_runs" not in mode.text  # the setting said warm
    assert mode.note == note


@pytest.mark.parametrize(
    "extra", [{}, {"sdk": "flytekit"}, {RUN_MODE: None}, {RUN_MODE: "lukewarm"}, {RUN_MODE: 1}]
)
def test_records_that_do_not_say_show_nothing(extra):
    assert run_mode(extra, sdk="flytekit", kind="task") is None
