"""One kernel's flyte_jupyter session: what the magics, the panel and any other adapter share.

A :class:`KernelSession` owns what one kernel knows:

* the cell log, fed by the recorder (its ``pre_run_cell``/``post_run_cell`` hooks, registered
  once per kernel by ``%load_ext``), and the listeners told when it changes;
* the environment and folder the kernel started in (what self-checks and runs start from:
  a later ``%env`` in the notebook must not make the self-check pass where the run fails);
* the panel's settings layer;
* settings resolution from every source, bundle jobs and launch requests.

It raises the core's errors (:class:`~flyte_jupyter.errors.FlyteJupyterError`); only the
magics turn them into IPython's ``UsageError``. It imports no IPython: the shell is handed in
and used through the few attributes of :class:`Shell`, and the ``%config`` values through a
callable, so the session can be built and tested without a kernel.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from flyte_jupyter import _kernel
from flyte_jupyter.capture import CellLog

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from flyte_jupyter.bundle import Bundle
    from flyte_jupyter.deploy import DeployRequest
    from flyte_jupyter.prepare import BundleJob
    from flyte_jupyter.progress import Progress
    from flyte_jupyter.settings import Settings
    from flyte_jupyter.submit import LaunchRequest

# Cells that record themselves (``%%flyte_run`` runs its definitions, then records them).
_SELF_RECORDING = ("%%flyte_run",)
# Cell magics that run their body in the notebook namespace: the body's definitions count.
_TRANSPARENT_CELL_MAGICS = frozenset({"time", "capture"})


class Shell(Protocol):
    """What the session uses of an IPython shell."""

    user_ns: dict[str, Any]
    history_manager: Any

    def transform_cell(self, raw_cell: str) -> str:
        """IPython syntax (magics, ``!``) to Python."""
        ...


class KernelSession:
    """What one kernel knows, shared by its magics, its panels and the recorder.

    Parameters
    ----------
    shell
        The kernel's IPython shell.
    config_values
        Returns the ``%config FlyteJupyter.*`` values as set (unknown keys included, so a
        misspelt one is an error rather than ignored).
    """

    def __init__(self, shell: Shell, config_values: Callable[[], Mapping[str, Any]]) -> None:
        self.shell = shell
        self.config_values = config_values
        self.cells = CellLog()
        self.current_cell_id: str | None = None
        # what a run starts from: the environment before any %env in the notebook
        self.environ = dict(os.environ)
        self.start_dir = Path.cwd()
        self.panel: dict[str, Any] = {}
        self.closed = False
        self._cell_listeners: list[Callable[[], None]] = []
        # the notebook's current path, as the JupyterLab extension tells it (renames included)
        self.followed_notebook: str | None = None
        self._server_root: str | None = None
        self._unfollow = _kernel.follow_notebook(self._notebook_moved)

    # -- recording -----------------------------------------------------------------------------

    def remember_cell(self, info: Any) -> None:
        """``pre_run_cell`` hook: note the running cell's id (``%%flyte_run`` records itself)."""
        self.current_cell_id = getattr(info, "cell_id", None)

    def record(self, result: Any) -> None:
        """``post_run_cell`` hook: keep the cell if it ran (its definitions now exist).

        Then tell the listeners (the panels), whether or not the cell was kept: a cell may
        have changed ``%config`` or launched a run.
        """
        # IPython passes None when the cell failed before it ran (e.g. RecursionError while
        # checking whether a very long cell is async)
        info = None if result is None else result.info
        if not (
            result is None or info is None or info.silent or result.error_before_exec is not None
        ):
            raw = info.raw_cell or ""
            if raw.strip() and not raw.lstrip().startswith(_SELF_RECORDING):
                first, _, body = raw.lstrip().partition("\n")
                magic = first[2:].split(" ", 1)[0] if first.startswith("%%") else None
                if magic in _TRANSPARENT_CELL_MAGICS:
                    raw = body
                self.add_cell(getattr(info, "cell_id", None), raw, result.execution_count)
        for listener in list(self._cell_listeners):
            listener()

    def add_cell(self, cell_id: str | None, raw: str, execution_count: int | None = None) -> None:
        """Record one executed cell (IPython syntax is transformed to Python first)."""
        source = self.shell.transform_cell(raw)
        self.cells = self.cells.add(cell_id, source, raw, execution_count)

    def backfill(self) -> None:
        """Record cells executed before ``%load_ext`` from the kernel's input history."""
        for raw in getattr(self.shell.history_manager, "input_hist_raw", [])[1:]:
            if raw.strip() and "load_ext flyte_jupyter" not in raw:
                self.add_cell(None, raw)

    def on_cell(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after every executed cell; returns a function that stops it."""
        self._cell_listeners.append(listener)

        def stop() -> None:
            if listener in self._cell_listeners:
                self._cell_listeners.remove(listener)

        return stop

    def close(self) -> None:
        """The extension was unloaded: tell the listeners one last time, then forget them."""
        from flyte_jupyter.worker import POOL

        self.closed = True
        self._unfollow()
        POOL.disable()
        for listener in list(self._cell_listeners):
            listener()
        self._cell_listeners.clear()

    # -- settings, bundles, launches ----------------------------------------------------------

    @property
    def notebook(self) -> str | None:
        """The notebook's current path, if its client tells it (see :attr:`notebook_origin`)."""
        return self.notebook_origin[0]

    @property
    def notebook_origin(self) -> tuple[str | None, str]:
        """The notebook's path, if known, and where it came from (for people)."""
        if self.followed_notebook:
            return self.followed_notebook, _kernel.FOLLOWED
        return _kernel.notebook_origin(self.shell.user_ns)

    def _notebook_moved(self, path: str) -> None:
        """The JupyterLab extension told the notebook's path (on open and on each rename)."""
        if os.path.isabs(path):
            self.followed_notebook = path
            return
        if self._server_root is None:
            started_as = _kernel.notebook_origin(self.shell.user_ns)[0]
            self._server_root = _kernel.server_root(path, started_as)
        # without a known root the relative path still names the notebook (and the module)
        root = self._server_root
        self.followed_notebook = os.path.join(root, path) if root else path

    def settings(
        self,
        options: Mapping[str, Any] | None = None,
        *,
        panel: Mapping[str, Any] | None = None,
        activate: bool = True,
    ) -> Settings:
        """Resolve settings from every source, with this call's ``options`` on top.

        ``panel`` replaces the panel layer for this resolution (the panel tries edits this
        way); ``activate=False`` leaves the active settings (``current_domain()``) alone.
        """
        from flyte_jupyter.settings import activate as make_active
        from flyte_jupyter.settings import resolve_settings

        settings = resolve_settings(
            start_dir=self.start_dir,
            environ=os.environ,
            traits=dict(self.config_values()),
            panel=self.panel if panel is None else panel,
            options=dict(options or {}),
        )
        settings = self._with_module_name(settings)
        if activate:
            make_active(settings)
        self._let_jobs_run_warm(settings)
        return settings

    def _with_module_name(self, settings: Settings) -> Settings:
        """``settings`` naming the module in use: set, or made from the notebook's name.

        So ``%flyte_settings`` and the panel show the name runs get, and where it came from.
        """
        if settings.module_name is not None:
            return settings
        import dataclasses

        from flyte_jupyter.capture import module_name_for

        path, origin = self.notebook_origin
        source = f"notebook name ({origin})" if path else origin
        return dataclasses.replace(
            settings,
            module_name=module_name_for(path),
            provenance={**settings.provenance, "module_name": source},
        )

    def _let_jobs_run_warm(self, settings: Settings) -> None:
        """Jobs of this kernel may use the warm worker; it starts with the first of them."""
        from flyte_jupyter.worker import POOL

        if not self.closed:
            POOL.enable(settings.home / "worker.log")

    def job_environ(self, settings: Settings) -> dict[str, str]:
        """The environment runs of ``settings`` start from (start-up environment + settings)."""
        from flyte_jupyter.prepare import run_environ

        return run_environ(settings, self.environ)

    def job(self, settings: Settings, names: list[str]) -> tuple[BundleJob, tuple[str, ...]]:
        """The bundle job of ``names`` (default: all entities of the notebook)."""
        from flyte_jupyter.prepare import job_for

        user_ns = self.shell.user_ns
        targets, in_notebook = _kernel.entities(user_ns, self.cells.records, names)
        job = job_for(
            settings,
            cells=self.cells.records,
            targets=targets,
            notebook_defined=in_notebook,
            notebook=self.notebook,
            loaded_modules=_kernel.loaded_modules(),
            environ=self.environ,
        )
        # the self-check and serialization of this job need the warm worker: its imports run
        # while the bundle is built (a no-op once it runs, or when it is not enabled)
        from flyte_jupyter.worker import POOL

        POOL.start(job.environ or self.environ)
        return job, targets

    def bundle(
        self,
        settings: Settings,
        names: list[str],
        progress: Progress | None = None,
    ) -> tuple[Bundle | None, tuple[str, ...]]:
        """The checked bundle of ``names`` (default: all entities of the notebook)."""
        from flyte_jupyter.prepare import prepare_bundle

        job, targets = self.job(settings, names)
        return prepare_bundle(job, progress=progress), targets

    def entity(self, name: str) -> Any:
        """The object ``name`` is bound to in the notebook."""
        return self.shell.user_ns[name]

    def entity_modules(self, targets: tuple[str, ...], bundle: Bundle | None) -> dict[str, str]:
        """``{name: module}`` to import each target from (the bundle's, else the installed)."""
        return dict(_kernel.entity_modules(self.shell.user_ns, targets, bundle))

    def launch_request(
        self, settings: Settings, name: str, inputs: Mapping[str, Any]
    ) -> LaunchRequest:
        """The launch of ``name(**inputs)``: what ``%%flyte_run`` and the panel's Run submit."""
        from flyte_jupyter.submit import LaunchRequest

        job, targets = self.job(settings, [name])
        return LaunchRequest(
            entity_name=name,
            entity=self.entity(name),
            inputs=inputs,
            job=job,
            settings=settings,
            module=self.entity_modules(targets, None).get(name),
            notebook=self.notebook,
        )

    def deploy_request(self, settings: Settings, names: list[str]) -> DeployRequest:
        """The deploy of ``names`` (default: all entities of the notebook).

        What ``%flyte_deploy`` and the panel's Deploy submit.
        """
        from flyte_jupyter.deploy import DeployRequest

        job, targets = self.job(settings, names)
        return DeployRequest(
            targets=targets,
            entities={name: self.entity(name) for name in targets},
            job=job,
            settings=settings,
            installed=self.entity_modules(targets, None),
        )
