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

from flyte_jupyter.server.details import gather
from flyte_jupyter.server.runs import AUTH_RESOURCE
from flyte_jupyter.server.service import BAD_ID, blocking, shown_record, valid_run_id
from flyte_jupyter.server.view import error_page, run_page

if TYPE_CHECKING:
    from flyte_jupyter.server.service import RunService

PAGE_TAIL_LINES = 2000


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
        details, log = await asyncio.gather(
            blocking(gather, record, service.home, redactor),
            blocking(service.read_log, record, tail=PAGE_TAIL_LINES),
        )
        record = shown_record(record, redactor)
        api = url_path_join(self.base_url, "flyte-jupyter", "api", "runs", record.id)
        page = run_page(
            record,
            details,
            log,
            urls={
                "run": api,
                "logs": url_path_join(api, "logs"),
                "cancel": url_path_join(api, "cancel"),
            },
            nonce=self.nonce,
            xsrf=self.xsrf_token.decode("ascii"),
            poll_interval=float(self.extensionapp.poll_interval),  # type: ignore[attr-defined]
            theme=self.get_query_argument("theme", None),
        )
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
