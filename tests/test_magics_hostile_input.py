"""Hostile and careless input through the real shell: clear errors, nothing stuck."""

import os
import re
import sys

import pytest
from IPython.core.error import UsageError
from shell_helpers import run_cell

TASK = "from flytekit import task\n@task\ndef square(x: int) -> int:\n    return x * x\n"


def long_sum(terms):
    return " + ".join(["1"] * terms)


@pytest.mark.parametrize("terms", [600, 1500])
def test_a_long_expression_in_any_cell_does_not_break_later_bundles(ip, terms):
    # the shell runs with jedi's recursion limit (3000), as a kernel does: the cell runs, and
    # ast.unparse used to raise RecursionError in every later %flyte_bundle
    assert sys.getrecursionlimit() >= 3000
    run_cell(ip, TASK, cell_id="task")
    before = run_cell(ip, "%flyte_bundle square").digest
    run_cell(ip, f"big = {long_sum(terms)}", cell_id="big")
    # too long for CPython's own compiler: the cell fails, and is not recorded
    huge = ip.run_cell(f"huge = {long_sum(3000)}", cell_id="huge")
    assert isinstance(huge.error_before_exec, RecursionError)
    assert run_cell(ip, "%flyte_bundle square").digest == before
    run_cell(ip, "@task\ndef scaled(x: int) -> int:\n    return x * big\n", cell_id="s")
    assert "big = 1 + 1 + " in run_cell(ip, "%flyte_bundle scaled").source
    dry = ip.run_line_magic("flyte_run", f"--dry-run square(x={long_sum(terms)})")
    assert dry is not None


def test_copy_style_all_never_ships_the_store_or_serialize_output_under_root_dir(ip, tmp_path):
    (tmp_path / "helper.py").write_text("X = 1\n")
    store = tmp_path / "bundle store"
    options = f'--copy-style all --store "file://{store}"'
    digests = []
    for edit in range(4):  # two versions, alternately: each must keep its digest
        run_cell(ip, TASK.replace("x * x", f"x * {edit % 2}"), cell_id="task")
        bundle = ip.run_line_magic("flyte_bundle", f"{options} --upload square")
        ip.run_line_magic("flyte_serialize", f"{options} --folder 'serialized out' square")
        assert bundle.files == ["helper.py", "nb_my_analysis.py"]
        digests.append(bundle.digest)
    assert digests[0] == digests[2] != digests[1] == digests[3]
    assert sorted(p.name for p in store.iterdir() if p.suffix == ".gz") == sorted(
        f"fast{d}.tar.gz" for d in set(digests)
    )
    why = {e.path: e.reason for e in bundle.excluded}
    assert "bundle store" in why["bundle store/"]
    assert "%flyte_serialize" in why["serialized out/"]


def test_serialize_into_root_dir_itself_is_refused_before_anything_is_built(ip, tmp_path):
    run_cell(ip, TASK)
    with pytest.raises(UsageError, match="is root_dir itself"):
        ip.run_line_magic("flyte_serialize", f"--folder {tmp_path} square")
    assert not (tmp_path / "home" / "cache" / "bundles").exists()


def test_quoted_paths_with_spaces_arrive_without_their_quotes(ip, tmp_path):
    run_cell(ip, TASK)
    (tmp_path / "my dir").mkdir()
    (tmp_path / "my dir" / "helper.py").write_text("X = 1\n")
    shown = ip.run_line_magic("flyte_settings", "--root-dir \"my dir\" --store 'file:///a b'")
    assert shown.settings.root_dir == tmp_path / "my dir"
    assert shown.settings.store == "file:///a b"
    bundle = ip.run_line_magic("flyte_bundle", '--copy-style all --root-dir "my dir" square')
    assert bundle.files == ["helper.py", "nb_my_analysis.py"]
    with pytest.raises(UsageError, match="close every quote"):
        ip.run_line_magic("flyte_settings", '--root-dir "my dir')


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("--image :::", "':::' is not an image reference"),
        ("--image gpu=ghcr.io/Org/Image:1", "repository in lower case"),
        ("--env =x", "an --env entry needs KEY=VALUE, got an entry with no name before '='"),
        ("--env NOEQUALS", "an --env entry needs KEY=VALUE, got 'NOEQUALS'"),
    ],
)
def test_bad_option_values_are_refused_with_what_to_write(ip, line, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        ip.run_line_magic("flyte_settings", line)


def test_an_unknown_config_key_can_be_cleared(ip):
    with pytest.warns(UserWarning, match="not recognized"):  # traitlets: set, kept, warned
        ip.run_line_magic("config", "FlyteJupyter.projct = 'p'")
    with pytest.raises(UsageError, match=r"Or unset it: %config FlyteJupyter.projct = None"):
        ip.run_line_magic("flyte_settings", "")
    with pytest.warns(UserWarning, match="not recognized"):
        ip.run_line_magic("config", "FlyteJupyter.projct = None")
    assert ip.run_line_magic("flyte_settings", "").settings.project


def test_a_file_name_that_is_not_utf8_is_bundled_and_shown(ip, tmp_path):
    with open(os.fsencode(tmp_path) + b"/caf\xe9.txt", "wb") as handle:
        handle.write(b"data")
    run_cell(ip, TASK)
    bundle = ip.run_line_magic("flyte_bundle", "--copy-style all square")
    assert os.fsdecode(b"caf\xe9.txt") in bundle.files
    html = bundle._repr_html_()
    html.encode("utf-8")  # what the kernel must send to the notebook
    assert "caf\\xe9.txt" in html


def test_serialize_to_an_existing_file_is_refused_before_anything_is_uploaded(ip, tmp_path):
    (tmp_path / "taken").write_text("not a folder")
    store = tmp_path.parent / f"{tmp_path.name}-store"
    run_cell(ip, TASK)
    with pytest.raises(UsageError, match="taken exists and is not a folder"):
        ip.run_line_magic("flyte_serialize", f"--store {store} --folder taken square")
    assert not store.exists()  # checked before the upload, which used to happen first
    assert (tmp_path / "taken").read_text() == "not a folder"


def test_an_input_beyond_64_bits_is_a_usage_error(ip):
    run_cell(ip, TASK)
    with pytest.raises(UsageError, match=r"outside Flyte's integer range"):
        ip.run_line_magic("flyte_run", "--dry-run square(x=2**80)")
