"""The extension app: its settings (traits) and its routes.

Configure it like any server extension, e.g. ``jupyter lab --FlyteJupyterApp.home=/data/fj``
or ``c.FlyteJupyterApp.poll_interval = 5`` in ``jupyter_server_config.py``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined
from jupyter_server.extension.application import ExtensionApp, ExtensionAppJinjaMixin
from traitlets import Float, Unicode, default, validate

from flyte_jupyter._private import secure_home
from flyte_jupyter.launch.urls import PUBLIC_INFO, public_url
from flyte_jupyter.server.loglines import RunLinesHandler
from flyte_jupyter.server.pages import ComparePageHandler, RunPageHandler
from flyte_jupyter.server.runs import (
    NotFoundHandler,
    RunCancelHandler,
    RunChangesHandler,
    RunHandler,
    RunListHandler,
    RunLogsHandler,
)
from flyte_jupyter.server.service import RunService
from flyte_jupyter.server.view import shown
from flyte_jupyter.server.watch import RunWatch

TEMPLATES = Path(__file__).with_name("templates")

_ID = r"(?P<run_id>[^/]+)"  # loose on purpose: the handlers answer a malformed id with 404 JSON
ROUTES: tuple[tuple[str, type], ...] = (
    (r"/flyte-jupyter/api/runs/?", RunListHandler),
    (r"/flyte-jupyter/api/runs/changes/?", RunChangesHandler),  # before the run ids
    (rf"/flyte-jupyter/api/runs/{_ID}/?", RunHandler),
    (rf"/flyte-jupyter/api/runs/{_ID}/logs/?", RunLogsHandler),
    (rf"/flyte-jupyter/api/runs/{_ID}/cancel/?", RunCancelHandler),
    (rf"/flyte-jupyter/api/runs/{_ID}/lines/?", RunLinesHandler),
    (r"/flyte-jupyter/api(?P<_path>/.*)?", NotFoundHandler),
    (rf"/flyte-jupyter/runs/{_ID}/?", RunPageHandler),
    (r"/flyte-jupyter/compare/?", ComparePageHandler),
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

    remote_poll_interval = Float(
        10.0,
        help=(
            "Seconds between two questions to the Flyte admin about the same active remote "
            "run, while a sidebar follows runs. Lists of runs never ask the admin."
        ),
    ).tag(config=True)

    _public_info: Path | None = None

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
        service = RunService(self.home_path, root_dir)
        self.settings["flyte_jupyter_service"] = service
        self.settings["flyte_jupyter_watch"] = RunWatch(
            service, remote_interval=self.remote_poll_interval
        )
        self.log.info("flyte_jupyter: serving runs from %s", self.home_path / "runs.sqlite")
        self._publish_public_url()

    def _publish_public_url(self) -> None:
        """Tell kernels of no server (nbclient, consoles) the URL people reach this one at.

        Only when ``ServerApp.custom_display_url`` is set: otherwise the URL in the server's
        own ``jpserver-<pid>.json`` is the public one. See :mod:`flyte_jupyter.launch.urls`.
        """
        server = self.serverapp
        if server is None or not server.custom_display_url:
            return
        info = server.server_info()
        url = public_url(server.custom_display_url, server.base_url, str(info["url"]))
        self._public_info = Path(server.runtime_dir) / PUBLIC_INFO.format(pid=os.getpid())
        try:
            self._public_info.write_text(json.dumps({"public_url": url}), encoding="utf-8")
        except OSError as exc:
            self.log.warning("flyte_jupyter: cannot write %s: %s", self._public_info, exc)

    async def stop_extension(self) -> None:
        """Stop watching the run store; withdraw the published URL."""
        self.settings["flyte_jupyter_watch"].close()
        if self._public_info is not None:
            self._public_info.unlink(missing_ok=True)

    def initialize_handlers(self) -> None:
        """Register the routes (the server prefixes its base URL)."""
        self.handlers.extend(ROUTES)
