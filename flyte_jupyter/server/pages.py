"""The HTML run page, ``<base_url>flyte-jupyter/runs/<id>``: the URL local runs show."""

from __future__ import annotations

import asyncio
import secrets
from http.client import responses
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.extension.handler import ExtensionHandlerJinjaMixin, ExtensionHandlerMixin
from jupyter_server.utils import url_path_join
from tornado import web

from flyte_jupyter.server.compare import compare
from flyte_jupyter.server.details import gather
from flyte_jupyter.server.logview import read_lines
from flyte_jupyter.server.nodeview import read_nodes
from flyte_jupyter.server.runs import AUTH_RESOURCE
from flyte_jupyter.server.service import BAD_ID, blocking, shown_record, valid_run_id
from flyte_jupyter.server.view import PageContext, asset, error_page, run_page

if TYPE_CHECKING:
    from flyte_jupyter.launch.model import RunRecord
    from flyte_jupyter.server.service import RunService

PAGE_TAIL_LINES = 2000
# JupyterLab's theme setting: a run page in a browser tab follows it (static/run.js)
THEME_SETTINGS = "@jupyterlab/apputils-extension:themes"
INDEX_RUNS = 50  # runs the compare page lists when it is not told which to compare
PREVIOUS_SCAN = 200  # runs of the same entity name searched for the previous one


def previous_run(service: RunService, record: RunRecord) -> str | None:
    """The id of the run of the same entity started last before ``record`` (blocking)."""
    for other in service.list_runs(entity=record.entity, limit=PREVIOUS_SCAN):
        if other.flyte_name == record.flyte_name and other.created_at < record.created_at:
            return other.id
    return None


class RunPageHandler(ExtensionHandlerJinjaMixin, ExtensionHandlerMixin, JupyterHandler):
    """One run's page: status, timeline, inputs, outputs, logs, bundle, serialization.

    Rendered from ``templates/run.html`` (errors: ``error.html``) with data that is already
    redacted: the redaction happens here and in the service, never in a template.
    """

    _nonce = ""
    auth_resource = AUTH_RESOURCE

    @property
    def nonce(self) -> str:
        """The CSP nonce of this response (tornado asks for the headers before ``get`` runs)."""
        if not self._nonce:
            self._nonce = secrets.token_urlsafe(16)
        return self._nonce

    @property
    def content_security_policy(self) -> str:
        """Scripts and styles only with this response's nonce; fetches only to this server."""
        return "; ".join(
            [
                super().content_security_policy,
                "default-src 'none'",
                f"script-src 'nonce-{self.nonce}'",
                f"style-src 'nonce-{self.nonce}'",
                "connect-src 'self'",
                "img-src 'self' data:",
                "base-uri 'none'",
                "form-action 'none'",
            ]
        )

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        """Render the page (404 for an unknown or malformed id)."""
        if not valid_run_id(run_id):
            raise web.HTTPError(404, BAD_ID)
        service: RunService = self.settings["flyte_jupyter_service"]
        record = await blocking(service.get_run, run_id)
        if record is None:
            raise web.HTTPError(404, f"No run {run_id!r} in {service.run_store.path}.")
        redactor = await blocking(service.redactor_for, record)
        details, previous = await asyncio.gather(
            blocking(gather, record, service.home, redactor),
            blocking(previous_run, service, record),
        )
        log, nodes = await asyncio.gather(
            blocking(
                read_lines, record, service.home, redactor, details.cells, tail=PAGE_TAIL_LINES
            ),
            blocking(read_nodes, record, service.home, redactor, details.cells),
        )
        record = shown_record(record, redactor)
        api = url_path_join(self.base_url, "flyte-jupyter", "api", "runs", record.id)
        compare = url_path_join(self.base_url, "flyte-jupyter", "compare")
        context = PageContext(
            urls={
                "run": api,
                "logs": url_path_join(api, "logs"),
                "lines": url_path_join(api, "lines"),
                "cancel": url_path_join(api, "cancel"),
                "compare": f"{compare}?a={previous}&b={record.id}" if previous else compare,
                "theme": url_path_join(self.base_url, "lab", "api", "settings", THEME_SETTINGS),
            },
            nonce=self.nonce,
            xsrf=self.xsrf_token.decode("ascii"),
            poll_interval=float(self.extensionapp.poll_interval),  # type: ignore[attr-defined]
            base_url=self.base_url,
            root_dir=service.root_dir,
            previous=previous,
            theme=self.get_query_argument("theme", None),
        )
        page = run_page(record, details, log, nodes, context)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(self.render_template("run.html", page=page))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A small HTML error page with the message only (never a traceback)."""
        message = responses.get(status_code, "Error")
        exc_info = kwargs.get("exc_info")
        if exc_info and isinstance(exc_info[1], web.HTTPError) and exc_info[1].log_message:
            message = exc_info[1].log_message
        self.set_header("Content-Type", "text/html; charset=utf-8")
        page = error_page(status_code, message, nonce=self.nonce)
        self.finish(self.render_template("error.html", page=page))


class ComparePageHandler(RunPageHandler):
    """``compare?a=<id>&b=<id>``: what changed between two runs.

    ``b`` alone: since the previous run of its entity; neither: the latest runs to pick from.
    Same headers, authorization and error page as a run page.
    """

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """Render the comparison (404 for an unknown id; without ``b``: the latest runs)."""
        service: RunService = self.settings["flyte_jupyter_service"]
        b_id = self.get_query_argument("b", "")
        if not b_id:
            await self._index(service)
            return
        b = await self._find(service, b_id)
        previous: str | None = await blocking(previous_run, service, b)
        a_id = self.get_query_argument("a", "") or previous
        if not a_id:
            raise web.HTTPError(404, f"Run {b.id} has no earlier run of {b.flyte_name}.")
        a = await self._find(service, a_id)
        comparison = await blocking(compare, service, a, b)
        runs = url_path_join(self.base_url, "flyte-jupyter", "runs")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(
            self.render_template(
                "compare.html",
                page={
                    "c": comparison,
                    "a_url": url_path_join(runs, a.id),
                    "b_url": url_path_join(runs, b.id),
                    "nonce": self.nonce,
                    "theme": self._theme(),
                    "style": asset("run.css"),
                },
            )
        )

    async def _index(self, service: RunService) -> None:
        """Without ``b``: the latest runs, each with a link to compare it with its previous."""
        records = await blocking(service.list_runs, limit=INDEX_RUNS)
        shown = await blocking(service.shown, records)
        base = url_path_join(self.base_url, "flyte-jupyter")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(
            self.render_template(
                "compare_index.html",
                page={
                    "runs": shown,
                    "runs_url": url_path_join(base, "runs"),
                    "compare_url": url_path_join(base, "compare"),
                    "nonce": self.nonce,
                    "theme": self._theme(),
                    "style": asset("run.css"),
                },
            )
        )

    def _theme(self) -> str | None:
        theme = self.get_query_argument("theme", None)
        return theme if theme in ("light", "dark") else None

    async def _find(self, service: RunService, run_id: str) -> RunRecord:
        if not valid_run_id(run_id):
            raise web.HTTPError(404, BAD_ID)
        record = await blocking(service.get_run, run_id)
        if record is None:
            raise web.HTTPError(404, f"No run {run_id!r} in {service.run_store.path}.")
        return record
