"""How the extension is found: server config, entry points, the labextension's metadata."""

import json
import re
from pathlib import Path

import flyte_jupyter
from flyte_jupyter.launch.urls import RUNS_PATH
from flyte_jupyter.server.app import ROUTES, FlyteJupyterApp

REPO = Path(__file__).resolve().parents[2]


def test_server_config_enables_the_extension_on_install():
    config = json.loads((REPO / "jupyter-config/server-config/flyte_jupyter.json").read_text())
    assert config == {"ServerApp": {"jpserver_extensions": {"flyte_jupyter": True}}}


def test_entry_points_name_the_app_and_the_prebuilt_labextension():
    (point,) = flyte_jupyter._jupyter_server_extension_points()
    assert point == {"module": "flyte_jupyter", "app": FlyteJupyterApp}
    assert FlyteJupyterApp.name == "flyte_jupyter"
    (lab,) = flyte_jupyter._jupyter_labextension_paths()
    assert lab == {"src": "labextension", "dest": "flyte-jupyter"}


def test_npm_package_matches_the_python_package():
    package = json.loads((REPO / "labextension/package.json").read_text())
    assert package["name"] == "flyte-jupyter"
    assert package["version"] == flyte_jupyter.__version__
    assert package["jupyterlab"]["outputDir"] == "../flyte_jupyter/labextension"
    assert package["jupyterlab"]["discovery"]["server"]["base"]["name"] == "flyte_jupyter"
    assert package["resolutions"]["@rspack/core"] == "2.2.9"


def test_run_urls_that_local_runs_show_are_served():
    pattern = next(p for p, handler in ROUTES if handler.__name__ == "RunPageHandler")
    assert re.fullmatch(pattern, f"/{RUNS_PATH}f0123456789abcdefghi")


def test_settings_schema_allows_no_unknown_keys():
    schema = json.loads((REPO / "labextension/schema/plugin.json").read_text())
    assert schema["additionalProperties"] is False


def test_page_templates_ship_inside_the_package():
    # the wheel ships the package folder (hatch `packages`): templates elsewhere would be lost
    (folder,) = FlyteJupyterApp().template_paths
    assert Path(folder) == Path(flyte_jupyter.__file__).parent / "server" / "templates"
    for name in ("base.html", "run.html", "error.html"):
        assert (Path(folder) / name).is_file(), name
