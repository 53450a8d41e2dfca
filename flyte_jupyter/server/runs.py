"""The runs API: list, changes, one run, its logs, cancel. JSON in, JSON out, errors included."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from flyte_jupyter.errors import CancelPendingError, FlyteJupyterError
from flyte_jupyter.server.service import (
    BAD_ID,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_TAIL_LINES,
    STATUSES,
    Conflict,
    Unsupported,
    blocking,
    record_json,
    valid_run_id,
)

if TYPE_CHECKING:
    from flyte_jupyter.launch.model import RunRecord
    from flyte_jupyter.server.service import RunService
    from flyte_jupyter.server.watch import RunWatch


# What jupyter_server's Authorizer is asked about: "read" for GET, "write" for cancel, so an
# authorizer of a read-only user (or a JupyterHub role) can let people follow runs but not stop
# them.
AUTH_RESOURCE = "flyte_jupyter"
# Seconds a change request waits at most: below the usual 60 s idle timeout of proxies.
CHANGES_TIMEOUT = 25
MAX_CHANGES_TIMEOUT = 55


class RunsBase(ExtensionHandlerMixin, APIHandler):
    """Shared helpers: the service, argument parsing, run lookup."""

    auth_resource = AUTH_RESOURCE

    @property
    def service(self) -> RunService:
        """The run service of this server (made by the extension app at startup)."""
        service: RunService = self.settings["flyte_jupyter_service"]
        return service

    def int_argument(self, name: str, default: int | None, low: int, high: int) -> int | None:
        """An integer query argument within ``[low, high]``, else 400."""
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise web.HTTPError(400, f"{name} must be an integer from {low} to {high}.")
        return value

    async def find(self, run_id: str) -> RunRecord:
        """The run, or a 404 for an unknown or malformed id."""
        if not valid_run_id(run_id):
            raise web.HTTPError(404, BAD_ID)
        record: RunRecord | None = await self.run(self.service.get_run, run_id)
        if record is None:
            raise web.HTTPError(404, f"No run {run_id!r} in {self.service.run_store.path}.")
        return record

    async def run(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        """Call the service in a worker thread; its domain errors become a 500 with a message."""
        try:
            return await blocking(func, *args, **kwargs)
        except FlyteJupyterError as exc:
            self.log.warning("flyte_jupyter: %s", exc)
            raise web.HTTPError(500, str(exc)) from exc

    def reply(self, body: dict[str, Any], status: int = 200) -> None:
        """Finish with a JSON body."""
        self.set_status(status)
        self.finish(json.dumps(body))


class RunListHandler(RunsBase):
    """``GET flyte-jupyter/api/runs``: runs, newest first, filtered and paged."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """List runs (``status``, ``notebook``, ``entity``, ``limit``, ``offset``)."""
        status = self.get_query_argument("status", None) or None
        if status is not None and status not in STATUSES:
            raise web.HTTPError(400, f"status must be one of {', '.join(STATUSES)}.")
        limit = self.int_argument("limit", DEFAULT_LIMIT, 1, MAX_LIMIT) or DEFAULT_LIMIT
        offset = self.int_argument("offset", 0, 0, 10**9) or 0
        records = await self.run(
            self.service.list_runs,
            status=status,
            notebook=self.get_query_argument("notebook", None) or None,
            entity=self.get_query_argument("entity", None) or None,
            limit=limit + 1,  # one more tells whether another page exists
            offset=offset,
        )
        page = await self.run(self.service.shown, records[:limit])
        self.reply(
            {
                "runs": [record_json(r, self.base_url, self.service.root_dir) for r in page],
                "limit": limit,
                "offset": offset,
                "next_offset": offset + limit if len(records) > limit else None,
            }
        )


class RunChangesHandler(RunsBase):
    """``GET flyte-jupyter/api/runs/changes?after=<token>``: wait for the run store to change.

    The reply, ``{"token", "changed"}``, comes once the store's token differs from ``after``
    (a run was added or changed), or after ``timeout`` seconds (default 25) with the same
    token. The sidebar asks again with the token it got, and lists runs when ``changed``.
    """

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """Long-poll for a change."""
        after = self.get_query_argument("after", "")
        timeout = self.int_argument("timeout", CHANGES_TIMEOUT, 0, MAX_CHANGES_TIMEOUT)
        watch: RunWatch = self.settings["flyte_jupyter_watch"]
        try:
            token = await watch.wait(after, float(timeout or 0))
        except FlyteJupyterError as exc:
            self.log.warning("flyte_jupyter: %s", exc)
            raise web.HTTPError(500, str(exc)) from exc
        self.reply({"token": token, "changed": token != after})


class RunHandler(RunsBase):
    """``GET flyte-jupyter/api/runs/<id>``: one run with its status history."""

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        """The run."""
        record = await self.find(run_id)
        [shown] = await self.run(self.service.shown, [record])
        self.reply(record_json(shown, self.base_url, self.service.root_dir))


class RunLogsHandler(RunsBase):
    """``GET flyte-jupyter/api/runs/<id>/logs``: ``?tail=N`` lines, or bytes from ``?offset=B``.

    The reply's ``offset`` is where the next read starts, so a follower keeps asking with
    ``?offset=<offset>`` until ``done`` is true and ``more`` is false.
    """

    @web.authenticated
    @authorized
    async def get(self, run_id: str) -> None:
        """A slice of the log."""
        tail = self.int_argument("tail", None, 0, MAX_TAIL_LINES)
        offset = self.int_argument("offset", None, 0, 2**62)
        if tail is not None and offset is not None:
            raise web.HTTPError(400, "Give tail or offset, not both.")
        record = await self.find(run_id)
        chunk = await self.run(self.service.read_log, record, tail=tail, offset=offset)
        if chunk.refused:  # e.g. a symlink the run's code planted as its log
            raise web.HTTPError(404, chunk.refused)
        self.reply(
            {"id": record.id, "status": record.status, "done": record.done} | chunk.to_json()
        )


class RunCancelHandler(RunsBase):
    """``POST flyte-jupyter/api/runs/<id>/cancel``: stop the run (XSRF-checked like any POST)."""

    @web.authenticated
    @authorized
    async def post(self, run_id: str) -> None:
        """Cancel; the reply is the run afterwards.

        202 (with a ``message``) when the run's supervisor is out of this server's reach and
        has not confirmed yet: it stops the run at its next heartbeat.
        """
        record = await self.find(run_id)
        try:
            cancelled = await blocking(self.service.cancel, record)
        except CancelPendingError as exc:
            # asked, not refused: the supervisor (out of this server's reach) stops the run at
            # its next heartbeat, and the run page shows when it has
            self.log.info("flyte_jupyter: cancel of run %s requested: %s", record.id, exc)
            [current] = await self.run(self.service.shown, [await self.find(run_id)])
            self.reply(
                record_json(current, self.base_url, self.service.root_dir) | {"message": str(exc)},
                status=202,
            )
            return
        except FlyteJupyterError as exc:
            self.log.warning("flyte_jupyter: %s", exc)
            raise web.HTTPError(500, str(exc)) from exc
        except Conflict as exc:
            raise web.HTTPError(409, str(exc)) from exc
        except Unsupported as exc:
            raise web.HTTPError(501, str(exc)) from exc
        self.log.info("flyte_jupyter: cancelled run %s (%s)", record.id, cancelled.status)
        [shown] = await self.run(self.service.shown, [cancelled])
        self.reply(record_json(shown, self.base_url, self.service.root_dir))


class NotFoundHandler(RunsBase):
    """Anything else under ``flyte-jupyter/api/``: a JSON 404, not the server's HTML page."""

    @web.authenticated
    @authorized
    async def get(self, _path: str) -> None:
        """404."""
        raise web.HTTPError(404, "No such flyte-jupyter API; see GET flyte-jupyter/api/runs.")

    post = get
