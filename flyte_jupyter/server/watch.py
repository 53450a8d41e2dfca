"""Changes of the run store, pushed to the sidebar by long polling.

The sidebar asks ``GET flyte-jupyter/api/runs/changes?after=<token>``; the answer comes as soon
as the run store changes (a run is added, or its status or fields change), or after a timeout
with the same token. So a run shows in the sidebar within about :attr:`RunWatch.interval` of
being written, without the sidebar asking for the whole list every second.

One watcher per server does the looking, in one thread of its own (the run store keeps one
SQLite connection per thread), and only while someone waits. It also keeps the statuses of
active remote runs fresh, asking the Flyte admin at most every :attr:`RunWatch.remote_interval`
seconds per run (see :meth:`RunService.refresh_remote`): listing runs never calls the admin,
however many browsers list them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flyte_jupyter.server.service import RunService

logger = logging.getLogger(__name__)


class RunWatch:
    """Watches one run store while anyone waits for a change.

    Parameters
    ----------
    service
        The run service whose store is watched.
    interval
        Seconds between looks at the store.
    remote_interval
        Seconds between two admin calls about the same active remote run.
    """

    def __init__(
        self, service: RunService, *, interval: float = 0.5, remote_interval: float = 10.0
    ) -> None:
        self.service = service
        self.interval = interval
        self.remote_interval = remote_interval
        self.token = ""
        self._changed = asyncio.Condition()
        self._waiters = 0
        self._task: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flyte-jupyter-watch")
        self._remote_at = -float("inf")

    async def current(self) -> str:
        """The store's token now (looked at in the watcher's thread)."""
        loop = asyncio.get_running_loop()
        await self._publish(await loop.run_in_executor(self._thread, self.service.version))
        return self.token

    async def _publish(self, token: str) -> None:
        if token != self.token:
            async with self._changed:
                self.token = token
                self._changed.notify_all()

    async def wait(self, after: str, timeout: float) -> str:
        """The store's token once it differs from ``after``, or after ``timeout`` seconds."""
        token = await self.current()
        if token != after:
            return token
        self._waiters += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._watch())
        try:
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self._changed.wait_for(lambda: self.token != after), timeout
                    )
        finally:
            self._waiters -= 1
        return self.token

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiters > 0:
            if time.monotonic() - self._remote_at >= self.remote_interval:
                self._remote_at = time.monotonic()
                try:
                    await loop.run_in_executor(
                        self._thread, self.service.refresh_remote, self.remote_interval
                    )
                except Exception:  # a backend's surprise must not stop the watcher
                    logger.exception("flyte_jupyter: cannot follow remote runs")
            try:
                token = await loop.run_in_executor(self._thread, self.service.version)
            except Exception:
                logger.exception("flyte_jupyter: cannot look at the run store")
                token = self.token
            await self._publish(token)
            await asyncio.sleep(self.interval)

    def close(self) -> None:
        """Stop watching (the server stops)."""
        if self._task is not None:
            self._task.cancel()
        self._thread.shutdown(wait=False, cancel_futures=True)
