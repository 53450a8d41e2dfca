"""The magics in a real IPython shell: recording cells, %flyte_bundle, errors as UsageError."""

import pytest
from IPython.core.error import UsageError
from shell_helpers import run_cell


def run(ip, source, cell_id=None):
    return run_cell(ip, source, cell_id)


def test_flyte_bundle_ships_the_notebook_module(ip, tmp_path):
    (tmp_path / "helper.py").write_text("def double(v):\n    return 2 * v\n")
    run(ip, "from flytekit import task\nimport helper\n%env FOO=1\n", cell_id="a")
    run(ip, "@task\ndef square(x: int) -> int:\n    return helper.double(x) * x\n", cell_id="b")
    bundle = run(ip, "%flyte_bundle")
    assert bundle.module == "nb_my_analysis"
    assert bundle.files == ["helper.py", "nb_my_analysis.py"]
    assert [d.code for d in bundle.dropped] == ["%env FOO=1"]
    assert "<details>" in bundle._repr_html_()
    assert run(ip, "%flyte_bundle square").digest == bundle.digest


def test_a_re_executed_cell_replaces_its_earlier_version(ip):
    run(ip, "from flytekit import task\ndef helper():\n    return 'v1'\n", cell_id="a")
    run(ip, "@task\ndef square(x: int) -> int:\n    return len(helper()) * x\n", cell_id="b")
    run(ip, "from flytekit import task\ndef helper():\n    return 'v2'\n", cell_id="a")
    source = run(ip, "%flyte_bundle square").source
    assert "'v2'" in source
    assert "'v1'" not in source


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%flyte_bundle nothere", "'nothere' is not defined in this kernel"),
        ("%flyte_bundle notatask", "'notatask' is a function, not a Flyte task"),
        ("%flyte_bundle --root-dir /does/not/exist", "does not exist"),
        ("%flyte_bundle --copy-style none", "ships no code, but square is defined in the notebook"),
        ("%flyte_serialize --folder x --copy-style none --version v1", "ships no code, but square"),
        ("%flyte_settings --image a=b=c", "image 'a=b=c' is not valid"),
        ("%flyte_settings --env NOEQUALS", "NOEQUALS"),
        ("%flyte_settings --project Bad_Project", "Bad_Project"),
        ("%flyte_bundle --copy-style sideways", "invalid choice"),
    ],
)
def test_bad_input_is_a_usage_error_that_says_what_to_do(ip, line, message):
    run(ip, "from flytekit import task\ndef notatask():\n    pass\n")
    run(ip, "@task\ndef square(x: int) -> int:\n    return x * x\n")
    with pytest.raises(UsageError, match=message):
        ip.run_line_magic(line.split()[0][1:], line.partition(" ")[2])


def test_no_entities_yet_says_how_to_define_one(ip):
    with pytest.raises(UsageError, match="No task or workflow is defined"):
        ip.run_line_magic("flyte_bundle", "")


def test_help_documents_every_option(ip):
    doc = ip.find_line_magic("flyte_bundle").__doc__
    for option in ("--copy-style", "--root-dir", "entities"):
        assert option in doc


def test_a_crash_in_a_cell_callback_fails_the_test_instead_of_being_printed(ip):
    def crash(_result):
        raise RuntimeError("the recorder crashed")

    ip.events.register("post_run_cell", crash)
    try:
        with pytest.raises(RuntimeError, match="the recorder crashed"):
            ip.run_cell("1 + 1")
    finally:
        ip.events.unregister("post_run_cell", crash)
