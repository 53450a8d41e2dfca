"""Every %flyte_* magic answers -h/--help with its usage, and does nothing else."""

import pytest
from shell_helpers import run_cell

MAGICS = (
    "flyte_run",
    "flyte_bundle",
    "flyte_settings",
    "flyte_serialize",
    "flyte_panel",
    "flyte_runs",
    "flyte_deploy",
)


def flyte_magics(ip):
    return sorted(name for name in ip.magics_manager.magics["line"] if name.startswith("flyte_"))


def test_the_list_above_is_every_flyte_magic(ip):
    assert set(flyte_magics(ip)) == set(MAGICS)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_line_magic_prints_its_usage(ip, capsys, flag):
    for name in flyte_magics(ip):
        result = run_cell(ip, f"%{name} {flag}")
        out = capsys.readouterr().out
        assert result is None, name
        assert out.startswith(f"Usage:\n\n  %{name} [-h]"), out
        assert "-h, --help" in out
        assert "needs a call" not in out


def test_help_lists_each_option_with_its_text(ip, capsys):
    run_cell(ip, "%flyte_serialize --help")
    out = capsys.readouterr().out
    assert "--folder FOLDER" in out  # required, yet --help alone is enough
    assert "Serialize tasks/workflows to flyteidl protobuf files" in out
    run_cell(ip, "%flyte_run --help")
    out = capsys.readouterr().out
    for option in ("--wait", "--dry-run", "--no-raise", "--copy-style", "--image"):
        assert option in out


def test_cell_form_prints_the_usage_and_runs_nothing(ip, capsys, tmp_path):
    run_cell(ip, "%%flyte_run --help\nmarker = 1\nsquare(x=7)\n")
    out = capsys.readouterr().out
    assert out.startswith("Usage:\n\n  %flyte_run [-h]")
    assert "marker" not in ip.user_ns  # the cell's definitions did not run
    assert not (tmp_path / "home" / "runs.sqlite").exists()


def test_help_wins_over_a_call_and_other_options(ip, capsys, tmp_path):
    run_cell(ip, "from flytekit import task\n@task\ndef square(x: int) -> int:\n    return x * x\n")
    assert run_cell(ip, "%flyte_run --wait --help square(x=3)") is None
    assert "Usage:" in capsys.readouterr().out
    assert not (tmp_path / "home" / "runs.sqlite").exists()  # nothing was launched
    assert run_cell(ip, "%flyte_bundle square --help") is None
    assert "Usage:" in capsys.readouterr().out


def test_help_inside_the_call_is_an_input_not_a_flag(ip):
    run_cell(ip, "from flytekit import task\n@task\ndef echo(s: str) -> str:\n    return s\n")
    run = ip.run_line_magic("flyte_run", "--dry-run echo(s='--help')")
    assert run.inputs == {"s": "'--help'"}


def test_other_mistakes_are_still_errors(ip):
    result = ip.run_cell("%flyte_panel extra")
    assert "takes no arguments" in str(result.error_in_exec)
    result = ip.run_cell("%flyte_bundle --hepl")
    assert "unrecognized arguments: --hepl" in str(result.error_in_exec)
