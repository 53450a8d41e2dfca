"""%flyte_settings and %flyte_serialize in a real shell, checked against flytekit itself."""

import subprocess
import sys
import tarfile

import pytest
from flyteidl.admin import task_pb2, workflow_pb2
from google.protobuf.json_format import MessageToDict
from shell_helpers import run_cell

CODE = """
from flytekit import task, workflow

@task
def square(x: int) -> int:
    return x * x

@workflow
def wf(x: int) -> int:
    return square(x=x)
"""


def test_settings_show_where_each_value_came_from(ip, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.flyte_jupyter]\nproject = "fromtoml"\ndomain = "staging"\n'
    )
    monkeypatch.setenv("FLYTE_JUPYTER_DOMAIN", "production")
    ip.run_line_magic("config", "FlyteJupyter.env = {'A': '1'}")
    view = ip.run_line_magic("flyte_settings", "--env API_TOKEN=hunter2")
    rows = {key: (value, source) for key, value, source in view.rows()}
    assert rows["project"] == ("fromtoml", f"pyproject.toml {tmp_path / 'pyproject.toml'}")
    assert rows["domain"] == ("production", "env FLYTE_JUPYTER_DOMAIN")
    assert rows["env.A"] == ("1", "%config FlyteJupyter.env")
    assert rows["env.API_TOKEN"][0] == "***"
    assert "hunter2" not in repr(view) + view._repr_html_()


def test_config_trait_then_option_precedence(ip):
    ip.run_line_magic("config", "FlyteJupyter.project = 'fromconfig'")
    assert {k: v for k, v, _ in ip.run_line_magic("flyte_settings", "").rows()}[
        "project"
    ] == "fromconfig"
    rows = ip.run_line_magic("flyte_settings", "--project fromoption").rows()
    assert {k: v for k, v, _ in rows}["project"] == "fromoption"


def test_unknown_config_trait_is_an_error(ip):
    from IPython.core.error import UsageError

    ip.run_line_magic("config", "FlyteJupyter.projcet = 'typo'")
    with pytest.raises(UsageError, match="projcet"):
        ip.run_line_magic("flyte_settings", "")


@pytest.fixture
def serialized(ip, tmp_path):
    run_cell(ip, CODE)
    out = tmp_path / "out"
    written = ip.run_line_magic(
        "flyte_serialize", f"--folder {out} --image ghcr.io/org/img:1 --env MODE=test --version v7"
    )
    return out, written


def test_serialize_writes_flytekit_named_specs_and_the_archive(serialized):
    out, written = serialized
    names = sorted(p.name for p in written)
    assert names[:3] == [
        "0_nb_my_analysis.square_1.pb",
        "1_nb_my_analysis.wf_2.pb",
        "2_nb_my_analysis.wf_3.pb",
    ]
    assert names[3].startswith("fast")
    assert names[3].endswith(".tar.gz")
    spec = task_pb2.TaskSpec()
    spec.ParseFromString((out / names[0]).read_bytes())
    assert spec.template.id.name == "nb_my_analysis.square"
    assert spec.template.id.version == "v7"
    assert spec.template.container.image == "ghcr.io/org/img:1"
    assert {e.key: e.value for e in spec.template.container.env}["MODE"] == "test"
    args = list(spec.template.container.args)
    assert args[:2] == ["pyflyte-fast-execute", "--additional-distribution"]
    assert args[2].startswith("file://")
    assert args[2].endswith(names[3])
    assert args[3:7] == ["--dest-dir", ".", "--", "pyflyte-execute"]
    assert args[-5:] == ["--", "task-module", "nb_my_analysis", "task-name", "square"]
    assert "flytekit.core.python_auto_container.default_task_resolver" in args
    wf = workflow_pb2.WorkflowSpec()
    wf.ParseFromString((out / names[1]).read_bytes())
    assert wf.template.id.name == "nb_my_analysis.wf"


def test_auto_version_is_stable_and_follows_images(ip, tmp_path):
    run_cell(ip, CODE)

    def version(extra=""):
        out = tmp_path / f"v{abs(hash(extra))}"
        ip.run_line_magic("flyte_serialize", f"--folder {out} square {extra}")
        spec = task_pb2.TaskSpec()
        spec.ParseFromString(next(out.glob("*_1.pb")).read_bytes())
        return spec.template.id.version

    first = version()
    assert first == version()
    assert first != version("--image ghcr.io/org/other:2")
    assert first != version("--env X=1")


def _pyflyte_package(folder):
    (folder / "wf_mod.py").write_text(CODE)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "flytekit.clis.sdk_in_container.pyflyte",
            "--pkgs",
            "wf_mod",
            "package",
            "--image",
            "ghcr.io/org/img:1",
            "--fast",
            "-o",
            "out.tgz",
            "--force",
        ],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    specs = {}
    with tarfile.open(folder / "out.tgz") as tar:
        for member in tar.getmembers():
            if member.name.endswith(".pb"):
                specs[member.name] = tar.extractfile(member).read()
    return specs


def _comparable(message):
    """The spec minus what pyflyte package leaves for registration time or points elsewhere.

    pyflyte package leaves ids' project/domain/version empty (set at registration), writes a
    placeholder for the bundle location and uses --dest-dir /root (its in-container source
    path); the issue asks for "." (the task's working folder). All else must be identical.
    """

    def strip(value):
        if isinstance(value, dict):
            return {
                k: strip(v) for k, v in value.items() if k not in ("project", "domain", "version")
            }
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    spec = strip(MessageToDict(message))
    args = spec.get("template", {}).get("container", {}).get("args")
    if args:
        args[2] = "<bundle>"
        args[4] = "<dest>"
    return spec


@pytest.mark.slow
def test_same_specs_as_pyflyte_package_apart_from_location_and_version(ip, tmp_path):
    (tmp_path / "plain").mkdir()
    theirs = _pyflyte_package(tmp_path / "plain")
    ip.run_line_magic("config", "FlyteJupyter.module_name = 'wf_mod'")
    run_cell(ip, CODE)
    out = tmp_path / "ours"
    ip.run_line_magic("flyte_serialize", f"--folder {out} --image ghcr.io/org/img:1")
    ours = {p.name: p.read_bytes() for p in out.glob("*.pb")}
    assert (
        sorted(ours)
        == sorted(theirs)
        == ["0_wf_mod.square_1.pb", "1_wf_mod.wf_2.pb", "2_wf_mod.wf_3.pb"]
    )
    for name, kind in (
        ("0_wf_mod.square_1.pb", task_pb2.TaskSpec),
        ("1_wf_mod.wf_2.pb", workflow_pb2.WorkflowSpec),
    ):
        a, b = kind(), kind()
        a.ParseFromString(ours[name])
        b.ParseFromString(theirs[name])
        assert _comparable(a) == _comparable(b)


def test_a_task_using_an_unknown_named_image_is_refused(ip, tmp_path):
    from IPython.core.error import UsageError

    run_cell(
        ip,
        "from flytekit import task\n\n@task(container_image='{{.image.gpu.fqn}}:{{.image.gpu.version}}')\ndef train(x: int) -> int:\n    return x\n",
    )
    with pytest.raises(
        UsageError, match=r"refers to image 'gpu', which is not defined.*--image gpu=<URI>"
    ):
        ip.run_line_magic("flyte_serialize", f"--folder {tmp_path / 'o'} --image ghcr.io/org/img:1")
    written = ip.run_line_magic(
        "flyte_serialize",
        f"--folder {tmp_path / 'o'} --image ghcr.io/org/img:1 --image gpu=ghcr.io/org/gpu:3",
    )
    spec = task_pb2.TaskSpec()
    spec.ParseFromString(written[0].read_bytes())
    assert spec.template.container.image == "ghcr.io/org/gpu:3"
