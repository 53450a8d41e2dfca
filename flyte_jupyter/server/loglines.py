"""``GET flyte-jupyter/runs/<id>/lines?offset=B``: the run page's log follower.

The run page (``static/run.js``) asks for the complete lines written after byte ``offset``,
rendered as the page renders its log (:mod:`flyte_jupyter.server.logview`: JSON records as
their message, frames mapped to cells, secrets redacted after decoding), and keeps asking from
the reply's ``offset`` while the run is active. The runs API's ``logs`` endpoint stays the raw
text for other clients.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from flyte_jupyter.server.details import cells_of
from flyte_jupyter.server.logview import read_lines
from flyte_jupyter.server.nodeview import nodes_stamp
from flyte_jupyter.server.runs import AUTH_RESOURCE
from flyte_jupyter.server.service import BAD_ID, blocking, valid_run_id

if TYPE_CHECKING:
    from flyte_jupyter.server.service import RunService

MAX_OFFSET = 2**62


class RunLinesHandler(ExtensionHandlerMixin, APIHandler):
    """The rendered log lines of one run after a byte offset (JSON)."""

    auth_resource = AUTH_RESOURCE

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        """``{id, status, done, lines, offset, size, more, nodes_stamp}``; 404 if unknown.

        ``nodes_stamp`` changes whenever the run's ``nodes.json`` does (the page reloads).
        """
        if not valid_run_id(run_id):
            raise web.HTTPError(404, BAD_ID)
        raw = self.get_query_argument("offset", "0")
        if not raw.isdigit() or int(raw) > MAX_OFFSET:
            raise web.HTTPError(400, f"offset must be an integer from 0 to {MAX_OFFSET}.")
        service: RunService = self.settings["flyte_jupyter_service"]
        record = await blocking(service.get_run, run_id)
        if record is None:
            raise web.HTTPError(404, f"No run {run_id!r} in {service.run_store.path}.")
        redactor = await blocking(service.redactor_for, record)
        cells = cells_of(record)
        view = await blocking(read_lines, record, service.home, redactor, cells, offset=int(raw))
        stamp = await blocking(nodes_stamp, record, service.home)
        if view.refused:
            raise web.HTTPError(404, view.refused)
        self.finish(
            json.dumps(
                {
                    "id": record.id,
                    "status": record.status,
                    "done": record.done,
                    "lines": [line.to_json() for line in view.lines],
                    "offset": view.offset,
                    "size": view.size,
                    "more": view.offset < view.size,
                    "available": view.available,
                    "nodes_stamp": stamp,
                }
            )
        )
