"""The extension app: its settings (traits) and its routes.

Configure it like any server extension, e.g. ``jupyter lab --FlyteJupyterApp.home=/data/fj``
or ``c.FlyteJupyterApp.poll_interval = 5`` in ``jupyter_server_config.py``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined
from jupyter_server.extension.application import ExtensionApp, ExtensionAppJinjaMixin
from traitlets import Float, Unicode, default, validate

from flyte_jupyter._private import secure_home
from flyte_jupyter.server.pages import RunPageHandler
from flyte_jupyter.server.runs import (
    NotFoundHandler,
    RunCancelHandler,
    RunHandler,
    RunListHandler,
    RunLogsHandler,
)
from flyte_jupyter.server.service import RunService
from flyte_jupyter.server.view import shown

TEMPLATES = Path(__file__).with_name("templates")

_ID = r"(?P<run_id>[^/]+)"  # loose on purpose: the handlers answer a malformed id with 404 JSON
ROUTES: tuple[tuple[str, type], ...] = (
    (r"/flyte-jupyter/api/runs/?", RunListHandler),
    (rf"/flyte-jupyter/api/runs/{_ID}/?", RunHandler),
    (rf"/flyte-jupyter/api/runs/{_ID}/logs/?", RunLogsHandler),
    (rf"/flyte-jupyter/api/runs/{_ID}/cancel/?", RunCancelHandler),
    (r"/flyte-jupyter/api(?P<_path>/.*)?", NotFoundHandler),
    (rf"/flyte-jupyter/runs/{_ID}/?", RunPageHandler),
)


class FlyteJupyterApp(ExtensionAppJinjaMixin, ExtensionApp):
    """Serves the run store: the runs API and the run pages.

    The pages are jinja2 templates (``templates/``) in the environment the mixin makes, with
    autoescape on: every value a page shows is escaped unless it is marked safe.
    """

    name = "flyte_jupyter"
    load_other_extensions = True

    home = Unicode(
        help=(
            "flyte_jupyter's home folder, where runs.sqlite and the run folders are. Default: "
            "$FLYTE_JUPYTER_HOME, else ~/.flyte_jupyter (what kernels use by default)."
        ),
    ).tag(config=True)

    poll_interval = Float(
        2.0,
        help="Seconds between refreshes of a run page while the run has not ended.",
    ).tag(config=True)

    @default("home")
    def _default_home(self) -> str:
        return os.environ.get("FLYTE_JUPYTER_HOME") or str(Path("~/.flyte_jupyter"))

    @validate("poll_interval")
    def _check_poll_interval(self, proposal: dict[str, Any]) -> float:
        value = float(proposal["value"])
        if not 0.2 <= value <= 3600:  # noqa: PLR2004 - a sane range of seconds
            msg = f"FlyteJupyterApp.poll_interval must be 0.2 to 3600 seconds, got {value}."
            raise ValueError(msg)
        return value

    @default("template_paths")
    def _default_template_paths(self) -> list[str]:
        return [str(TEMPLATES)]

    @property
    def home_path(self) -> Path:
        """The home folder as an absolute path (``~`` expanded)."""
        return Path(self.home).expanduser().absolute()

    def initialize_templates(self) -> None:
        """Complete the options of the templates' environment (the mixin makes it next).

        Whatever ``jinja2_options`` a user sets, a misspelt variable fails loudly instead of
        showing nothing, and every value is made valid Unicode before it is escaped.
        """
        self.jinja2_options = {
            **self.jinja2_options,
            "undefined": StrictUndefined,
            "finalize": shown,
            "trim_blocks": True,
            "lstrip_blocks": True,
        }

    def initialize_settings(self) -> None:
        """Make the run service the handlers share."""
        root_dir = Path(self.serverapp.root_dir) if self.serverapp else Path.cwd()
        if self.home_path.is_dir():  # an existing home becomes private; none is made here
            secure_home(self.home_path)
        self.settings["flyte_jupyter_service"] = RunService(self.home_path, root_dir)
        self.log.info("flyte_jupyter: serving runs from %s", self.home_path / "runs.sqlite")

    def initialize_handlers(self) -> None:
        """Register the routes (the server prefixes its base URL)."""
        self.handlers.extend(ROUTES)
