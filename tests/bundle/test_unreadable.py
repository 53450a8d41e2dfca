"""Files the bundle cannot read: a clear error or a listed exclusion, never a raw traceback."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from flyte_jupyter.bundle import BundleRequest, make_bundle
from flyte_jupyter.bundle.selfcheck import self_check
from flyte_jupyter.capture import CellLog, build_module
from flyte_jupyter.errors import BundleError

# Bundle in a child process that, like a user who is not root, cannot read mode-000 files:
# root reads them anyway (CAP_DAC_OVERRIDE), so as root the child runs without the two
# capabilities that override file permissions.
CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from flyte_jupyter.bundle import BundleRequest, make_bundle
    from flyte_jupyter.errors import FlyteJupyterError
    try:
        request = BundleRequest(root_dir=Path(sys.argv[1]), copy_style="all")
        bundle = make_bundle(request, cache_dir=Path(sys.argv[2]))
    except FlyteJupyterError as exc:
        print(json.dumps({"error": str(exc)}))
    else:
        excluded = {e.path: e.reason for e in bundle.excluded}
        print(json.dumps({"files": bundle.files, "excluded": excluded}))
    """
)


def bundle_without_read_override(root, cache):
    cmd = [sys.executable, "-c", CHILD, str(root), str(cache)]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root, and setpriv (util-linux) is missing to drop DAC caps")
        cmd = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", *cmd]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr  # a raw traceback would fail here
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_mode_000_file_is_an_error_that_names_it(tree, cache):
    root = tree({"main.py": "x = 1\n", "data.csv": "a,b\n"})
    os.chmod(root / "data.csv", 0)
    try:
        result = bundle_without_read_override(root, cache)
    finally:
        os.chmod(root / "data.csv", 0o644)
    assert result["error"] == (
        f"{root / 'data.csv'} cannot be read (Permission denied); nothing was published. "
        "Make it readable (e.g. chmod u+r), or keep it out of the bundle with a line in "
        ".flyteignore."
    )


def test_a_mode_000_folder_is_left_out_and_listed(tree, cache):
    root = tree({"main.py": "x = 1\n", "private/notes.py": "", "private/.gitignore": "*.log\n"})
    os.chmod(root / "private", 0)
    try:
        result = bundle_without_read_override(root, cache)
    finally:
        os.chmod(root / "private", 0o755)
    assert result["files"] == ["main.py"]
    assert result["excluded"] == {"private": "unreadable folder (Permission denied)"}


@pytest.mark.parametrize("damage", ["truncated", "not gzip"])
def test_a_damaged_archive_in_the_self_check_is_named_and_deleted(tree, cache, damage):
    root = tree({"helper.py": "X = 1\n"})
    log = CellLog().add(None, "import helper\ndef t():\n    return helper.X\n")
    module = build_module(log.records, ["t"], "nb_t")
    bundle = make_bundle(BundleRequest(root_dir=root, module=module), cache_dir=cache)
    data = bundle.path.read_bytes()
    bundle.path.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"junk" * 100)
    with pytest.raises(BundleError) as info:
        self_check(bundle, module, cache_dir=cache, loaded_modules={})
    assert f"The bundle archive {bundle.path} cannot be extracted" in str(info.value)
    assert "run again to rebuild it" in str(info.value)
    assert not bundle.path.exists()
