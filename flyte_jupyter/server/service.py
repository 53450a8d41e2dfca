"""What the handlers do, as plain blocking functions over the run store and run folders.

Handlers call these through :func:`blocking` so SQLite and the disk are touched in a worker
thread. Nothing here knows about HTTP: not-found is ``None``, refusals are the exceptions
below, and the handlers translate them into status codes.

Reads never change a run: the server may run in another container than the kernels and their
supervisors, so it cannot tell a dead supervisor from one it cannot see. A run whose
supervisor's lease expired is shown as lost (``lost``, ``lost_note``), and stays as recorded.
Remote runs are the exception: their status belongs to the Flyte admin, which the server can
reach as well as a kernel can, so :meth:`RunService.refresh_remote` records what the admin
says (as the kernel's ``Run.wait`` does), throttled per run.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import importlib.util
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from flyte_jupyter._private import UnsafeFileError, open_inside
from flyte_jupyter.errors import FlyteJupyterError
from flyte_jupyter.launch.liveness import lost, lost_note
from flyte_jupyter.launch.model import TERMINAL
from flyte_jupyter.launch.runstore import RunStore
from flyte_jupyter.redaction import Redactor, redact, redact_url, secret_values

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from flyte_jupyter.launch.model import RunRecord

T = TypeVar("T")
logger = logging.getLogger(__name__)

# Run ids are what flyte_jupyter.launch.new_run_id makes: 'f' + 19 of [a-z0-9].
RUN_ID = re.compile(r"f[a-z0-9]{19}")
# Never echo a malformed id: it is untrusted text, and tornado %-formats error messages.
BAD_ID = "No such run: a run id is 'f' followed by 19 lowercase letters or digits."
STATUSES: tuple[str, ...] = ("QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "ABORTED")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_TAIL_LINES = 10_000
LOG_CHUNK = 1024 * 1024  # the most log bytes one response carries
RUNS_PAGE = "flyte-jupyter/runs"
_CONTINUATION_MASK, _CONTINUATION = 0xC0, 0x80
_UTF8_LEADS = ((0xF0, 4), (0xE0, 3), (0xC0, 2))  # lead byte at least -> bytes in the character


class Unsupported(Exception):  # noqa: N818 - reads as "raise Unsupported(...)"
    """The request is valid but this installation cannot do it (HTTP 501)."""


class Conflict(Exception):  # noqa: N818
    """The run's state forbids the request, e.g. cancelling a finished run (HTTP 409)."""


async def blocking(func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``func`` in the default executor so the tornado loop keeps serving."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(func, *args, **kwargs))


def valid_run_id(text: str) -> bool:
    """Return whether ``text`` has the exact shape of a run id."""
    return RUN_ID.fullmatch(text) is not None


@dataclass(frozen=True)
class LogChunk:
    """A slice of a run's log.

    ``start`` and ``offset`` are byte positions: the text is bytes ``[start, offset)``, and a
    follower asks next for ``?offset=<offset>``. ``offset`` never splits a UTF-8 character.
    """

    text: str
    start: int
    offset: int
    size: int
    available: bool
    refused: str | None = None  # why the log file is not read (a planted symlink, ...)

    @property
    def more(self) -> bool:
        """True when bytes after ``offset`` were already written."""
        return self.offset < self.size

    def to_json(self) -> dict[str, Any]:
        """The API's representation."""
        return {
            "text": self.text,
            "start": self.start,
            "offset": self.offset,
            "size": self.size,
            "more": self.more,
            "available": self.available,
            "refused": self.refused,
        }


class RunService:
    """The run store of one home folder, as the server sees it.

    Parameters
    ----------
    home
        flyte_jupyter's home folder (``runs.sqlite`` and ``runs/<id>/`` live there).
    root_dir
        The server's root folder: where settings are resolved from when a remote run whose
        notebook folder is gone is cancelled.
    """

    def __init__(self, home: Path, root_dir: Path) -> None:
        self.home = home
        self.root_dir = root_dir
        self.run_store = RunStore(home / "runs.sqlite")
        # the secrets of the server's environment, which kernels it starts inherit
        self.redactor = Redactor.of(os.environ)
        # remote runs: when the admin was last asked about each, and their launchers
        self._remote_polled: dict[str, float] = {}
        self._remote_failed: set[str] = set()
        self._launchers: dict[tuple[str, str, Path], Any] = {}

    def list_runs(
        self,
        *,
        status: str | None = None,
        notebook: str | None = None,
        entity: str | None = None,
        limit: int = DEFAULT_LIMIT,
        offset: int = 0,
    ) -> list[RunRecord]:
        """Runs, newest first (an absent store has none; it is not created here)."""
        if not self.run_store.path.exists():
            return []
        return self.run_store.list(
            status=status, notebook=notebook, entity=entity, limit=limit, offset=offset
        )

    def version(self) -> str:
        """A token that changes whenever a run is added or changed (heartbeats aside).

        Every change of a run sets its ``updated_at``; an added run raises the count. Cheap:
        one aggregate query, no rows read out.
        """
        if not self.run_store.path.exists():
            return "none"
        # RunStore has no public query for this; its per-thread connection is what to use
        with self.run_store._db() as db:  # noqa: SLF001
            count, latest = db.execute("SELECT count(*), max(updated_at) FROM runs").fetchone()
        return f"{count}:{latest}"

    def refresh_remote(self, interval: float) -> int:
        """Ask the admin about active remote runs, each at most every ``interval`` seconds.

        The launchers write what they learn to the run store, where lists, run pages and
        :meth:`version` see it. A run whose backend cannot be reached from here is logged once
        and left as recorded. Returns how many runs were asked about.
        """
        if not self.run_store.path.exists():
            return 0
        active = [
            record
            for status in ("QUEUED", "RUNNING")
            for record in self.run_store.list(status=status, limit=MAX_LIMIT)
            if record.backend != "local"
        ]
        now = time.monotonic()
        asked = 0
        for record in active:
            if now - self._remote_polled.get(record.id, -float("inf")) < interval:
                continue
            self._remote_polled[record.id] = now
            asked += 1
            try:
                launcher = self._remote_launcher(record)
            except (FlyteJupyterError, Unsupported) as exc:  # not configured here
                self._cannot_follow(record, exc)
                continue
            try:
                current = launcher.refresh(record)
            except FlyteJupyterError as exc:  # its cluster did not answer: shown as lost
                if self._cannot_follow(record, exc):
                    stamp = time.strftime("%H:%M:%S")
                    self.run_store.add_extra(record.id, connection=f"{stamp} {exc}")
                continue
            if record.id in self._remote_failed or current.extra.get("connection"):
                self._remote_failed.discard(record.id)  # heard from again
                self.run_store.add_extra(record.id, connection=None)
        return asked

    def _cannot_follow(self, record: RunRecord, exc: Exception) -> bool:
        """Log, once per run, why it cannot be followed; True the first time."""
        if record.id in self._remote_failed:
            return False
        self._remote_failed.add(record.id)
        logger.warning("flyte_jupyter: cannot follow run %s: %s", record.id, exc)
        return True

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run with its status history, or None."""
        if not valid_run_id(run_id) or not self.run_store.path.exists():
            return None
        return self.run_store.get(run_id)

    def _local(self) -> Any:
        from flyte_jupyter.launch.local import LocalLauncher

        return LocalLauncher(self.home, max_parallel=None, server_url=None)

    def read_log(
        self, record: RunRecord, *, tail: int | None = None, offset: int | None = None
    ) -> LogChunk:
        """The last ``tail`` lines of the log, or its bytes from ``offset`` (default 0).

        The log is read only from the run's folder under this home, never through a symlink
        or a hard link the run's code may have planted there; its text is redacted.
        """
        chunk = read_log(record.log_path, tail=tail, offset=offset, root=self.home / "runs")
        return dataclasses.replace(chunk, text=self.redactor_for(record).text(chunk.text))

    def shown(self, records: list[RunRecord]) -> list[RunRecord]:
        """The records as the API and the run page show them (see :func:`shown_record`)."""
        return [shown_record(r, self.redactor_for(r)) for r in records]

    def redactor_for(self, record: RunRecord) -> Redactor:
        """The server's redactor plus the secrets the run's ``command.json`` records."""
        from flyte_jupyter.server.details import recorded_env

        env = recorded_env(record, self.home) if record.run_dir else {}
        return Redactor(self.redactor.values | secret_values(env)) if env else self.redactor

    def cancel(self, record: RunRecord) -> RunRecord:
        """Stop a run that has not ended.

        Raises
        ------
        Conflict
            The run already ended.
        Unsupported
            Its backend cannot be driven from this installation.
        flyte_jupyter.errors.FlyteJupyterError
            The backend refused or failed.
        """
        if record.status in TERMINAL:
            msg = f"Run {record.id} already ended ({record.status}); there is nothing to cancel."
            raise Conflict(msg)
        if record.backend == "local":
            cancelled: RunRecord = self._local().cancel(record)
            return cancelled
        return self._cancel_remote(record)

    def _cancel_remote(self, record: RunRecord) -> RunRecord:
        cancelled: RunRecord = self._remote_launcher(record).cancel(record)
        return cancelled

    def _remote_launcher(self, record: RunRecord) -> Any:
        """The launcher of a remote run's backend and SDK (one per backend, SDK and folder, kept).

        Raises
        ------
        Unsupported
            The backend is unknown here, or its package is not installed.
        """
        from flyte_jupyter.launch.backends import launcher_for, launcher_target
        from flyte_jupyter.settings import resolve_settings

        where = f" Cancel it in the Flyte console: {redact_url(record.url)}" if record.url else ""
        target = launcher_target(record.backend, record.sdk)
        if target is None:
            msg = f"Run {record.id} ran on backend {record.backend!r}, unknown here.{where}"
            raise Unsupported(msg)
        module = target[0].partition(":")[0]
        if importlib.util.find_spec(module) is None:
            msg = (
                f"Following or cancelling {record.backend} runs from JupyterLab needs "
                f"{module}, which this installation of flyte_jupyter does not have.{where}"
            )
            raise Unsupported(msg)
        # the notebook's folder holds the pyproject/flytekit config the run was launched with
        notebook_dir = Path(record.notebook).parent if record.notebook else None
        start_dir = notebook_dir if notebook_dir and notebook_dir.is_dir() else self.root_dir
        key = (record.backend, record.sdk, start_dir)
        if key not in self._launchers:
            settings = resolve_settings(
                start_dir=start_dir,
                environ=os.environ,
                options={"backend": record.backend, "home": str(self.home)},
            )
            self._launchers[key] = launcher_for(settings, record.sdk)
        return self._launchers[key]


def read_log(
    log_path: str | None,
    *,
    tail: int | None = None,
    offset: int | None = None,
    limit: int = LOG_CHUNK,
    root: Path | None = None,
) -> LogChunk:
    """Read a slice of a log file (see :meth:`RunService.read_log`); at most ``limit`` bytes.

    With ``root``, only a regular file under it, reached without symlinks, is read (see
    :func:`flyte_jupyter._private.open_inside`); another is refused with the reason.
    """
    if not log_path:
        return LogChunk("", 0, 0, 0, available=False)
    try:
        with open_inside(root, log_path) if root else open(log_path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if tail is not None:
                start = max(0, size - limit)
                handle.seek(start)
                lines = handle.read(size - start).splitlines(keepends=True)
                if start > 0 and lines:
                    lines = lines[1:]  # the window cut the first line
                data = b"".join(lines[-tail:]) if tail else b""
                start = size - len(data)
            else:
                start = min(offset or 0, size)
                handle.seek(start)
                data = _complete_utf8(handle.read(min(limit, size - start)))
    except UnsafeFileError as exc:
        return LogChunk("", 0, 0, 0, available=False, refused=f"The log is not shown: {exc}")
    except OSError:
        return LogChunk("", 0, 0, 0, available=False)
    text = data.decode("utf-8", errors="replace")
    return LogChunk(text, start, start + len(data), size, available=True)


def _complete_utf8(data: bytes) -> bytes:
    """``data`` without a UTF-8 character cut at its end (the next read starts with it)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & _CONTINUATION_MASK == _CONTINUATION:  # look further back for the lead byte
            continue
        needed = next((n for lead, n in _UTF8_LEADS if byte >= lead), 1)
        return data[:-back] if back < needed else data
    return data


def record_json(record: RunRecord, base_url: str, root_dir: Path | None = None) -> dict[str, Any]:
    """A run as the API shows it: no local paths or process ids; secrets redacted.

    ``notebook_path`` is the notebook as JupyterLab opens it (relative to the server's
    ``root_dir``), or None when it lies outside or is unknown.
    """
    return {
        "id": record.id,
        "backend": record.backend,
        "entity": record.entity,
        "flyte_name": record.flyte_name,
        "kind": record.kind,
        "sdk": record.sdk,
        "project": record.project,
        "domain": record.domain,
        "version": record.version,
        "status": record.status,
        "done": record.done,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "url": redact_url(record.url) if record.url else None,
        "page_url": page_url(base_url, record.id),
        "notebook": record.notebook,
        "notebook_path": notebook_api_path(record.notebook, root_dir),
        "bundle_digest": record.bundle_digest,
        "bundle_uri": redact_url(record.bundle_uri) if record.bundle_uri else None,
        "inputs": redact_map(record.inputs),
        "outputs": None if record.outputs is None else redact_map(record.outputs),
        "error": record.error,
        "remote_id": record.remote_id,
        "heartbeat_at": record.heartbeat_at,
        "lost": lost(record),
        "lost_note": lost_note(record),
        "has_log": bool(record.log_path),
        "events": [
            {"at": at, "status": status, "message": message}
            for at, status, message in record.events
        ],
    }


def notebook_api_path(notebook: str | None, root_dir: Path | None) -> str | None:
    """``notebook`` relative to ``root_dir`` with ``/`` separators, if it lies inside."""
    if not notebook or root_dir is None:
        return None
    path = Path(notebook)
    if not path.is_absolute():  # recorded as the server named it: already relative
        return path.as_posix() if ".." not in path.parts else None
    try:
        return path.relative_to(root_dir.absolute()).as_posix()
    except ValueError:
        return None


def redact_map(values: Mapping[str, Any]) -> dict[str, str]:
    """``{name: text}`` with the values of secret-looking names hidden."""
    return {str(key): redact(str(key), value) for key, value in values.items()}


def page_url(base_url: str, run_id: str) -> str:
    """The server-relative URL of a run's page."""
    return f"/{base_url.strip('/')}/{RUNS_PAGE}/{run_id}".replace("//", "/")


def shown_record(record: RunRecord, redactor: Redactor) -> RunRecord:
    """The record with every free-text field redacted, as the API and the run page show it.

    Of ``extra``, the notes the launcher writes for people (``*_note``, e.g. why a warm run
    ran the pod command) are free text too.
    """
    return dataclasses.replace(
        record,
        extra={
            key: redactor.text(value) if key.endswith("_note") and isinstance(value, str) else value
            for key, value in record.extra.items()
        },
        url=redact_url(record.url) if record.url else record.url,
        bundle_uri=redact_url(record.bundle_uri) if record.bundle_uri else record.bundle_uri,
        inputs=redactor.mapping(record.inputs),
        outputs=None if record.outputs is None else redactor.mapping(record.outputs),
        error=redactor.text(record.error) if record.error else record.error,
        events=tuple((at, status, redactor.text(message)) for at, status, message in record.events),
    )
