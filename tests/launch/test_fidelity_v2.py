"""Bundles of flyte v2 tasks made here run in flyte's stock code, with flyte_jupyter not importable.

The v2 twin of ``test_fidelity.py``: a notebook-defined task (a local helper module, a dataclass
input, a lazy import, an ``Image.from_ref_name`` image) is bundled and serialized by
``%flyte_serialize``; the TaskSpec's ``a0`` command, its templates filled as a pod's would be,
runs from the ``file://`` store and from a moto ``s3://`` store. A task that fans out to
sub-tasks needs v2's controller under ``a0``; it runs with flyte's own local mode from the
same bundle, fetched and extracted by flyte's own code, in the same flyte_jupyter-free process.
"""

import json
import os
import subprocess
import sys

import pytest
from flyteidl2.task import task_definition_pb2
from shell_helpers import run_cell
from stock_image import BLOCKER

from flyte_jupyter.launch.local import console_script
from flyte_jupyter.sdk import sdk_for

pytestmark = [
    pytest.mark.slow,
    # flyte's dataclass transformer builds a pydantic model with a class-based config: third party
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
]

CELLS = [
    "from dataclasses import dataclass\nimport flyte\nimport geometry\n",
    "@dataclass\nclass Box:\n    w: int\n    h: int\n",
    'env = flyte.TaskEnvironment(name="fid", image=flyte.Image.from_ref_name("base"))\n',
    (
        "@env.task\n"
        "def describe(b: Box) -> str:\n"
        "    import formatting  # imported lazily: only the run needs it\n"
        "    try:\n"
        "        import flyte_jupyter  # noqa: F401\n"
        "        isolated = 'flyte_jupyter importable'\n"
        "    except ImportError:\n"
        "        isolated = 'isolated'\n"
        "    return formatting.show(geometry.area(b.w, b.h)) + ' ' + isolated\n"
    ),
    (
        "@env.task\n"
        "def area_of(b: Box) -> int:\n"
        "    return geometry.area(b.w, b.h)\n\n"
        "@env.task\n"
        "def total(boxes: list[Box]) -> str:\n"
        "    import formatting\n"
        "    return formatting.show(sum(area_of(b) for b in boxes))\n"
    ),
]
# flyte's own code only: fetch and extract the bundle as a0 does, import the task with flyte's
# default resolver, run it in flyte's local mode (sub-tasks in this process), print the output
FAN_OUT = """
import asyncio, json, sys
from pathlib import Path
import flyte
import flyte.storage
from flyte._internal.runtime.entrypoints import download_code_bundle, load_task
from flyte.models import CodeBundle

tgz, version, module, dest = sys.argv[1:5]
try:
    import flyte_jupyter  # noqa: F401
    sys.exit("flyte_jupyter is importable")
except ImportError:
    pass
flyte.init(root_dir=Path(dest), storage=flyte.storage.S3.auto() if tgz.startswith("s3://") else None)
asyncio.run(download_code_bundle(CodeBundle(tgz=tgz, destination=dest, computed_version=version)))
sys.path.insert(0, dest)
task = load_task("flyte._internal.resolvers.default.DefaultTaskResolver", "mod", module, "instance", "total")
Box = sys.modules[module].Box
run = flyte.with_runcontext(mode="local").run(task, boxes=[Box(w=3, h=5), Box(w=2, h=2), Box(w=1, h=7)])
print(json.dumps({"out": run.outputs()[0] if isinstance(run.outputs(), tuple) else run.outputs()}))
"""


@pytest.fixture
def nb(ip, tmp_path, monkeypatch):
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    (tmp_path / "geometry.py").write_text("def area(w, h):\n    return w * h\n")
    (tmp_path / "formatting.py").write_text("def show(v):\n    return f'area={v}'\n")
    for index, cell in enumerate(CELLS):
        run_cell(ip, cell, cell_id=f"c{index}")
    return ip


def serialize(nb, tmp_path):
    """``%flyte_serialize`` of the notebook: ``{task: TaskSpec}`` and the bundle's file name."""
    out = tmp_path / "serialized"
    written = nb.run_line_magic(
        "flyte_serialize",
        f"--folder {out} --image ghcr.io/acme/default:1 --image base=ghcr.io/acme/base:1.0 "
        "--version v1 describe total",
    )
    specs = {}
    for path in written:
        if path.suffix == ".pb":
            spec = task_definition_pb2.TaskSpec()
            spec.ParseFromString(path.read_bytes())
            specs[spec.task_template.id.name.rsplit(".", 1)[-1]] = spec
    assert set(specs) >= {"describe", "total"}, written
    return specs


def stock_env(tmp_path, extra_env=None):
    """The environment of a stock flyte image: flyte_jupyter cannot be imported."""
    blocker = tmp_path / "stock-image"
    blocker.mkdir(exist_ok=True)
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTE_JUPYTER")}
    env["PYTHONPATH"] = str(blocker)
    env["DO_NOT_TRACK"] = "1"
    env.update(extra_env or {})
    check = subprocess.run(  # noqa: PLW1510 - checked below
        [sys.executable, "-c", "import flyte_jupyter"], env=env, capture_output=True, text=True
    )
    assert check.returncode != 0
    assert "No module named 'flyte_jupyter'" in check.stderr
    return env


def run_a0(nb, spec, tmp_path, extra_env=None):
    """Run the TaskSpec's ``a0`` command as a pod would; the task's output, through flyte."""
    task = nb.user_ns["describe"]
    sdk = sdk_for(task)
    inputs_pb, _ = sdk.check_inputs("describe", task, {"b": nb.user_ns["Box"](w=3, h=5)})
    work, out, raw, base = (tmp_path / name for name in ("work", "out", "raw", "base"))
    for folder in (work, out, raw, base):
        folder.mkdir()
    (tmp_path / "inputs.pb").write_bytes(inputs_pb)
    values = {
        "{{.input}}": str(tmp_path / "inputs.pb"),
        "{{.outputPrefix}}": str(out),
        "{{.rawOutputDataPrefix}}": str(raw),
        "{{.checkpointOutputPrefix}}": str(tmp_path / "ckpt"),
        "{{.prevCheckpointPrefix}}": "",
        "{{.runName}}": "fidelity",
        "{{.actionName}}": "a0",
        "{{.runStartTime}}": "",
    }
    args = [values.get(a, a) for a in spec.task_template.container.args]
    assert args[0] == "a0"
    assert not [a for a in args if "{{" in a], args  # every template was filled
    cut = args.index("--resolver")
    local = ["--run-base-dir", str(base), "--project", "p", "--domain", "d", "--org", "local"]
    argv = [console_script("a0", "flyte"), *args[1:cut], *local, *args[cut:]]
    proc = subprocess.run(  # noqa: PLW1510 - the outputs file is the verdict
        argv, cwd=work, env=stock_env(tmp_path, extra_env), capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert (out / "outputs.pb").exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return sdk.outputs_to_python(task, (out / "outputs.pb").read_bytes())


def run_fan_out(spec, tmp_path, extra_env=None):
    """Run the fan-out task of the bundle with flyte's own code only; its output."""
    args = list(spec.task_template.container.args)
    tgz, version = args[args.index("--tgz") + 1], args[args.index("--version") + 1]
    module = args[args.index("mod") + 1]
    dest = tmp_path / "fan-out"
    dest.mkdir()
    proc = subprocess.run(  # noqa: PLW1510 - the printed output is the verdict
        [sys.executable, "-c", FAN_OUT, tgz, version, module, str(dest)],
        cwd=dest, env=stock_env(tmp_path, extra_env), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])["out"]


def s3_env(endpoint):
    return {
        "FLYTE_AWS_ENDPOINT": endpoint,
        "FLYTE_AWS_ACCESS_KEY_ID": "testing",
        "FLYTE_AWS_SECRET_ACCESS_KEY": "testing",
    }


def use_s3(monkeypatch, endpoint, bucket):
    monkeypatch.setenv("FLYTE_JUPYTER_STORE", f"s3://{bucket}/nb")
    options = {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}
    monkeypatch.setenv("FLYTE_JUPYTER_STORAGE_OPTIONS", json.dumps(options))


def test_stock_a0_runs_a_v2_bundle_from_a_file_store(nb, tmp_path):
    specs = serialize(nb, tmp_path)
    args = list(specs["describe"].task_template.container.args)
    assert args[args.index("--tgz") + 1].startswith("file://")
    assert specs["describe"].task_template.container.image == "ghcr.io/acme/base:1.0"
    assert run_a0(nb, specs["describe"], tmp_path) == "area=15 isolated"


def test_stock_a0_runs_a_v2_bundle_from_s3(nb, tmp_path, monkeypatch, s3_bucket):
    endpoint, bucket = s3_bucket
    use_s3(monkeypatch, endpoint, bucket)
    specs = serialize(nb, tmp_path)
    args = list(specs["describe"].task_template.container.args)
    assert args[args.index("--tgz") + 1].startswith(f"s3://{bucket}/nb/")
    assert run_a0(nb, specs["describe"], tmp_path, s3_env(endpoint)) == "area=15 isolated"


def test_flytes_local_mode_runs_a_fan_out_v2_bundle_from_a_file_store(nb, tmp_path):
    specs = serialize(nb, tmp_path)
    assert run_fan_out(specs["total"], tmp_path) == "area=26"


def test_flytes_local_mode_runs_a_fan_out_v2_bundle_from_s3(nb, tmp_path, monkeypatch, s3_bucket):
    endpoint, bucket = s3_bucket
    use_s3(monkeypatch, endpoint, bucket)
    specs = serialize(nb, tmp_path)
    args = list(specs["total"].task_template.container.args)
    assert args[args.index("--tgz") + 1].startswith(f"s3://{bucket}/nb/")
    assert run_fan_out(specs["total"], tmp_path, s3_env(endpoint)) == "area=26"
