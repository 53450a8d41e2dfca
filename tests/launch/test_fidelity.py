"""Bundles made here run in flytekit's stock entrypoint, with flyte_jupyter not importable.

This is what a Flyte pod on a stock flytekit image does: download the bundle from the store
URI, extract it, import the generated module with flytekit's default resolver, run the task.
"""

import json
import os
import subprocess
import sys

import pytest
from stock_image import BLOCKER

from flyte_jupyter.capture import CellLog
from flyte_jupyter.launch.local import console_script
from flyte_jupyter.prepare import BundleJob, prepare_bundle, publish_bundle, serialize_for
from flyte_jupyter.sdk import sdk_for
from flyte_jupyter.settings import resolve_settings

pytestmark = pytest.mark.slow

CELLS = [
    "from dataclasses import dataclass\nfrom flytekit import task\nimport geometry\n",
    "@dataclass\nclass Box:\n    w: int\n    h: int\n",
    (
        "@task\n"
        "def describe(b: Box) -> str:\n"
        "    import formatting  # imported lazily: only the run needs it\n"
        "    try:\n"
        "        import flyte_jupyter  # noqa: F401\n"
        "        isolated = 'flyte_jupyter importable'\n"
        "    except ImportError:\n"
        "        isolated = 'isolated'\n"
        "    return formatting.show(geometry.area(b.w, b.h)) + ' ' + isolated\n"
    ),
]


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    (root / "geometry.py").write_text("def area(w, h):\n    return w * h\n")
    (root / "formatting.py").write_text("def show(v):\n    return f'area={v}'\n")
    return root


def build(project, home, store, storage_options=None):
    """Capture, bundle, publish and serialize with the real core functions."""
    import importlib

    import flytekit  # noqa: F401 - the kernel has it loaded

    log = CellLog()
    for cell in CELLS:
        log = log.add(None, cell)
    environ = {"FLYTE_JUPYTER_HOME": str(home), "FLYTE_JUPYTER_CONFIG_CEILING": str(project)}
    if store:
        environ["FLYTE_JUPYTER_STORE"] = store
    options = {"storage_options": storage_options} if storage_options else {}
    settings = resolve_settings(start_dir=project, environ=environ, options=options)
    sys.path.insert(0, str(project))
    try:
        geometry = importlib.import_module("geometry")
        job = BundleJob(
            cells=log.records,
            targets=("describe",),
            notebook_defined=("describe",),
            module_name="nb_fidelity",
            root_dir=project,
            copy_style="auto",
            cache_dir=home / "cache",
            loaded_modules={"geometry": geometry.__file__},
        )
        bundle = publish_bundle(prepare_bundle(job), settings)
    finally:
        sys.path.remove(str(project))
        sys.modules.pop("geometry", None)
    serialized = serialize_for(bundle, [("describe", bundle.module)], settings)
    return bundle, serialized


def run_stock(serialized, tmp_path, extra_env=None):
    """Run the serialized container command as a pod would; return the output text."""
    from flyteidl.core import literals_pb2
    from flytekit import task  # build inputs with the kernel-side type engine

    blocker = tmp_path / "stock-image"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text(BLOCKER)
    work, out, raw = (tmp_path / name for name in ("work", "out", "raw"))
    for folder in (work, out, raw):
        folder.mkdir()

    import dataclasses

    @dataclasses.dataclass
    class Box:
        w: int
        h: int

    @task
    def describe(b: Box) -> str:  # the kernel's twin of the bundled task: same interface
        return str(b)

    inputs_pb, _ = sdk_for(describe).check_inputs("describe", describe, {"b": Box(w=3, h=5)})
    (tmp_path / "inputs.pb").write_bytes(inputs_pb)
    values = {
        "{{.input}}": str(tmp_path / "inputs.pb"),
        "{{.outputPrefix}}": str(out),
        "{{.rawOutputDataPrefix}}": str(raw),
        "{{.checkpointOutputPrefix}}": str(tmp_path / "ckpt"),
        "{{.prevCheckpointPrefix}}": "",
    }
    argv = [values.get(a, a) for a in serialized.container_args("describe")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTE_JUPYTER")}
    env["PYTHONPATH"] = str(blocker)
    env.update(extra_env or {})
    argv[0] = console_script(argv[0], "flytekit")
    proc = subprocess.run(  # noqa: PLW1510 - the outputs file is the verdict
        argv, cwd=work, env=env, capture_output=True, text=True, timeout=300
    )
    assert (out / "outputs.pb").exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    message = literals_pb2.LiteralMap()
    message.ParseFromString((out / "outputs.pb").read_bytes())
    return message.literals["o0"].scalar.primitive.string_value


def test_stock_entrypoint_runs_a_bundle_from_a_file_store(project, tmp_path):
    bundle, serialized = build(project, tmp_path / "home", None)
    assert bundle.uri.startswith("file://")
    assert sorted(bundle.files) == ["formatting.py", "geometry.py", "nb_fidelity.py"]
    assert run_stock(serialized, tmp_path) == "area=15 isolated"


def test_stock_entrypoint_runs_a_bundle_from_s3(project, tmp_path, s3_bucket):
    endpoint, bucket = s3_bucket
    bundle, serialized = build(
        project, tmp_path / "home", f"s3://{bucket}/bundles", {"endpoint_url": endpoint}
    )
    assert bundle.uri == f"s3://{bucket}/bundles/{bundle.filename}"
    assert serialized.container_args("describe")[2] == bundle.uri
    env = {
        "FLYTE_AWS_ENDPOINT": endpoint,
        "FLYTE_AWS_ACCESS_KEY_ID": "testing",
        "FLYTE_AWS_SECRET_ACCESS_KEY": "testing",
    }
    assert run_stock(serialized, tmp_path, env) == "area=15 isolated"
    assert json.dumps(bundle.files)  # the same three files travelled through S3
