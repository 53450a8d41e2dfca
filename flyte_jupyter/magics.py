"""IPython adapter: record executed cells, and the ``%flyte_*`` magics.

Thin by design: each magic parses its arguments, resolves settings, calls the core and turns
core errors into ``UsageError`` (shown without a traceback) carrying the core's message,
which says what to do.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments

from flyte_jupyter import _kernel
from flyte_jupyter._traits import FlyteJupyter, trait_values
from flyte_jupyter._usage import parse_options, show_help, usage_errors
from flyte_jupyter.bundle.model import COPY_STYLES
from flyte_jupyter.errors import RunFailedError
from flyte_jupyter.launch.model import STATUSES
from flyte_jupyter.session import KernelSession
from flyte_jupyter.settings import BACKENDS, LOCAL_RUNS

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable
    from types import TracebackType

    from IPython.core.interactiveshell import InteractiveShell

    from flyte_jupyter.bundle import Bundle
    from flyte_jupyter.launch.history import RunList
    from flyte_jupyter.settings import Settings

# argparse dest -> settings key
_OPTION_KEYS = {
    "project": "project",
    "domain": "domain",
    "version": "version",
    "copy_style": "copy_style",
    "root_dir": "root_dir",
    "image": "images",
    "env": "env",
    "backend": "backend",
    "store": "store",
    "local_runs": "local_runs",
}


_CODE_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "--copy-style",
        {
            "choices": COPY_STYLES,
            "help": "auto: notebook module + local modules it uses; "
            "all: every file under root_dir; none: no bundle (code in the image).",
        },
    ),
    ("--root-dir", {"help": "Folder whose files may ship (default: the notebook's folder)."}),
    ("--store", {"help": "fsspec URL of the bundle store (default: under FLYTE_JUPYTER_HOME)."}),
)
_TARGET_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--project", {"help": "Flyte project."}),
    ("--domain", {"help": "Flyte domain."}),
    ("--version", {"help": "Version to register under (default: hash of code and settings)."}),
    (
        "--image",
        {
            "action": "append",
            "metavar": "[NAME=]URI",
            "help": "URI sets the default image; NAME=URI adds a named ref (repeatable).",
        },
    ),
    (
        "--env",
        {
            "action": "append",
            "metavar": "KEY=VALUE",
            "help": "Environment variable for task containers (repeatable).",
        },
    ),
    ("--backend", {"choices": BACKENDS, "help": "local (embedded) or remote (a Flyte cluster)."}),
)

# how a run runs, not what it is: only the magics that run (and %flyte_settings) take these
_RUN_OPTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    (
        "--local-runs",
        {
            "choices": LOCAL_RUNS,
            "help": "Local backend only. warm: the entrypoint in a child forked from a "
            "pre-imported interpreter; exact: the pod's command in fresh processes.",
        },
    ),
)


def _options(table: tuple[tuple[str, dict[str, Any]], ...]) -> Callable[[Any], Any]:
    def apply(func: Any) -> Any:
        for flag, kwargs in reversed(table):
            func = argument(flag, **kwargs)(func)
        return func

    return apply


# every magic documents itself: ``-h``/``--help`` prints this usage and runs nothing
help_option = argument("-h", "--help", action="store_true", help="Show this help; run nothing.")
code_options = _options(_CODE_OPTIONS)
target_options = _options(_TARGET_OPTIONS)
# a deploy always goes to a Flyte cluster: --backend has no say
deploy_target_options = _options(tuple(o for o in _TARGET_OPTIONS if o[0] != "--backend"))
run_options = _options(_RUN_OPTIONS)


@magics_class
class FlyteMagics(Magics):
    """The ``%flyte_*`` magics of one kernel: thin adapters over its :class:`KernelSession`."""

    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell)
        self.config_object = FlyteJupyter(parent=shell)
        self.session = KernelSession(shell, self._config_values)

    @property
    def ip(self) -> InteractiveShell:
        """The shell these magics belong to (always set once registered)."""
        # IPython 8 types Magics.shell as Any, IPython 9 as optional
        shell: InteractiveShell | None = self.shell
        if shell is None:  # pragma: no cover - IPython sets it in Magics.__init__
            msg = "FlyteMagics is not attached to an IPython shell"
            raise RuntimeError(msg)
        return shell

    def _config_values(self) -> dict[str, Any]:
        # the raw %config dict, not just known traits: unknown names must be errors
        return {
            **trait_values(self.config_object),
            **dict(self.ip.config.get("FlyteJupyter", {})),
        }

    # -- shared steps ---------------------------------------------------------------------------

    def settings(self, args: argparse.Namespace | None = None) -> Settings:
        """The session's settings with this call's options on top (errors as UsageError)."""
        options = {}
        for dest, key in _OPTION_KEYS.items():
            value = getattr(args, dest, None)
            if value is not None:
                options[key] = value
        with usage_errors():
            return self.session.settings(options)

    def bundle(self, settings: Settings, names: list[str]) -> tuple[Bundle | None, tuple[str, ...]]:
        """The checked bundle of ``names``, with a progress bar for big ones."""
        from flyte_jupyter.widgets.progress import progress_bar

        with usage_errors(), progress_bar("Bundling") as progress:
            return self.session.bundle(settings, names, progress=progress)

    # -- magics --------------------------------------------------------------------------------

    @magic_arguments()
    @help_option
    @argument("entities", nargs="*", help="Tasks/workflows to ship (default: all in the notebook).")
    @argument("--upload", action="store_true", help="Also put the archive in the bundle store.")
    @code_options
    @line_magic
    def flyte_bundle(self, line: str) -> Bundle | None:
        """Build the source bundle of tasks/workflows: a preview of what would ship.

        Shows the files, sizes, digest, the module generated from the notebook, the
        statements left out of it and the files excluded, with the rule that excluded each.
        With ``--upload`` the archive also goes to the bundle store (``uri``; ``reused`` is True
        when the bundle store had it already and nothing was sent).
        """
        if show_help(self.flyte_bundle, line):
            return None
        args = parse_options(self.flyte_bundle, line)
        settings = self.settings(args)
        bundle, _ = self.bundle(settings, list(args.entities))
        if bundle is None:
            msg = "copy style 'none' makes no bundle: the code must already be in the image."
            raise UsageError(msg)
        if args.upload:
            from flyte_jupyter.prepare import publish_bundle
            from flyte_jupyter.widgets.progress import progress_bar

            with usage_errors(), progress_bar("Uploading") as progress:
                bundle = publish_bundle(bundle, settings, progress=progress)
        return bundle

    @magic_arguments()
    @help_option
    @target_options
    @run_options
    @code_options
    @line_magic
    def flyte_settings(self, line: str) -> Any:
        """Show the resolved settings and where each value came from (secrets redacted)."""
        from flyte_jupyter.display import SettingsView

        if show_help(self.flyte_settings, line):
            return None
        return SettingsView(self.settings(parse_options(self.flyte_settings, line)))

    @magic_arguments()
    @help_option
    @argument("entities", nargs="*", help="Tasks/workflows to serialize (default: all).")
    @argument("--folder", required=True, help="Folder to write the .pb files and the archive to.")
    @target_options
    @code_options
    @line_magic
    def flyte_serialize(self, line: str) -> list[Path] | None:
        """Serialize tasks/workflows to flyteidl protobuf files, like ``pyflyte package``.

        Writes ``<index>_<name>_<1 task|2 workflow|3 launch plan>.pb`` and the bundle archive
        into ``--folder``; the container args are flytekit's fast-execute command pointing at
        the archive's URI in the bundle store, so a stock flytekit image runs them.
        """
        from flyte_jupyter.prepare import publish_bundle, serialize_for
        from flyte_jupyter.sdk import sdk_for
        from flyte_jupyter.settings import check_image_refs

        if show_help(self.flyte_serialize, line):
            return None
        args = parse_options(self.flyte_serialize, line)
        settings = self.settings(args)
        folder = _output_folder(args.folder, settings)  # before anything is built or uploaded
        bundle, targets = self.bundle(settings, list(args.entities))
        with usage_errors():
            sdks = {}
            for name in targets:
                entity = self.session.entity(name)
                sdk = sdk_for(entity, name)
                check_image_refs(sdk.container_images(entity), settings.images)
                sdk.check_images(name, entity, settings.images)
                sdks[name] = sdk.name
            if bundle is not None:
                bundle = publish_bundle(bundle, settings)
            modules = self.session.entity_modules(targets, bundle)
            files = [  # each SDK serializes its own entities
                item
                for sdk_name in sorted(set(sdks.values()))
                for item in serialize_for(
                    bundle,
                    [(n, m) for n, m in modules.items() if sdks.get(n) == sdk_name],
                    settings,
                    sdk=sdk_name,
                    environ=self.session.job_environ(settings),
                ).files
            ]
        written = [Path(shutil.copy2(f.path, folder / f.path.name)) for f in files]
        if bundle is not None:
            written.append(Path(shutil.copy2(bundle.path, folder / bundle.filename)))
        print(f"Wrote {len(written)} files to {args.folder}:")  # noqa: T201 - as the user named it
        for path in written:
            print(f"  {path.name}")  # noqa: T201
        return written

    @magic_arguments()
    @help_option
    @argument("entities", nargs="*", help="Tasks/workflows to deploy (default: all).")
    @argument(
        "--dry-run",
        action="store_true",
        help="Show the specs that would be registered; upload and register nothing.",
    )
    @deploy_target_options
    @code_options
    @line_magic
    def flyte_deploy(self, line: str) -> Any:
        """Register tasks/workflows on the Flyte cluster under a version, without running them.

        Builds, checks and publishes the bundle as a run does, serializes each entity with
        its SDK and registers it: flytekit tasks, workflows and their default launch plans
        (FlyteRemote), flyte v2 task environments. Always the cluster of the Flyte config
        (``endpoint``), whatever ``backend`` says. Returns a Deployment listing each entity
        (registered, or already registered with the same spec) with its console link; with
        ``--dry-run``, the serialized specs, nothing uploaded and no cluster contacted.
        """
        from flyte_jupyter import _deploying

        return _deploying.deploy_magic(self, line)

    @magic_arguments()
    @help_option
    @argument("call", nargs="*", help="Line form: the call to launch, e.g. square(x=7).")
    @argument(
        "--wait",
        action="store_true",
        help="Block until the run ends; a run that ends FAILED or ABORTED fails the cell "
        "(RunFailedError, with the run's error mapped to cells), so Run All stops there.",
    )
    @argument(
        "--no-raise",
        action="store_true",
        help="With --wait: a failed run does not fail the cell; it ends normally.",
    )
    @argument("--dry-run", action="store_true", help="Bundle and serialize; launch nothing.")
    @target_options
    @run_options
    @code_options
    @line_cell_magic
    def flyte_run(self, line: str, cell: str | None = None) -> Any:
        """Launch a task or workflow on the configured backend and show its run.

        Cell form: the cell's definitions run in the notebook as usual; its last statement
        must call a task or workflow with inputs by name (``square(x=7)``), or assign that
        call (``r = square(x=7)`` binds the Run to ``r``). Line form:
        ``%flyte_run [options] square(x=7)``. Returns a Run with ``id``, ``url``,
        ``status``, ``wait()``, ``outputs``, ``logs()`` and ``cancel()``.

        With ``--wait``, a run that ends FAILED or ABORTED raises ``RunFailedError``: its
        message has the run's error with frames pointed at notebook cells, and its ``.run``
        is the Run (``r`` too in the cell form). ``--no-raise`` lets the cell end normally.
        """
        from flyte_jupyter import _launching

        return _launching.run_magic(self, line, cell)

    @magic_arguments()
    @help_option
    @argument("--notebook", help="Only runs of this notebook (its path, file name or name).")
    @argument("--entity", help="Only runs of this task/workflow (square or nb_x.square).")
    @argument("--status", type=str.upper, choices=STATUSES, help="Only runs with this status.")
    @argument("--limit", type=int, default=20, help="At most this many runs (default: 20).")
    @line_magic
    def flyte_runs(self, line: str) -> Any:
        """List runs from the run store, newest first: the same Runs %flyte_run returns.

        The runs of every kernel, before and after restarts; each row links to the run's
        page. The result is a list of Run (``[0].logs()``, ``.outputs``, ``.cancel()``);
        ``flyte_jupyter.runs(...)`` returns the same, ``flyte_jupyter.get_run(id)`` one run.
        """
        if show_help(self.flyte_runs, line):
            return None
        args = parse_options(self.flyte_runs, line)
        with usage_errors():
            return live_runs(
                self.session.settings(activate=False),
                notebook=args.notebook,
                entity=args.entity,
                status=args.status,
                limit=args.limit,
            )

    @magic_arguments()
    @help_option
    @line_magic
    def flyte_panel(self, line: str) -> Any:
        """Open the panel: target, images, code, serialization preview, run, runs.

        The panel edits the same settings the magics use (its layer sits between
        ``%config`` and per-call options): what you set there is what the next
        ``%%flyte_run`` uses.
        """
        if show_help(self.flyte_panel, line):
            return None
        if line.strip():
            raise UsageError("%flyte_panel takes no arguments (--help shows what it does).")
        from flyte_jupyter.widgets import FlytePanel

        return FlytePanel(self.session)


def _output_folder(name: str, settings: Settings) -> Path:
    """Create the ``--folder`` of ``%flyte_serialize`` and mark it so no bundle ships it.

    Checked before anything is bundled or uploaded, so a wrong folder costs nothing.
    """
    from flyte_jupyter.bundle.ignore import mark_output_folder

    folder = Path(name).expanduser().absolute()
    if settings.root_dir is not None and folder == Path(os.path.abspath(settings.root_dir)):
        msg = (
            f"--folder {name} is root_dir itself: the .pb files and the archive written there "
            "would ship in every later bundle. Use a subfolder (it is kept out of bundles) or "
            "a folder outside root_dir."
        )
        raise UsageError(msg)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        mark_output_folder(folder)
    except FileExistsError as exc:
        msg = f"--folder {name}: {exc.filename} exists and is not a folder. Pass a folder path."
        raise UsageError(msg) from exc
    except OSError as exc:
        msg = f"--folder {name} cannot be written ({exc.strerror}). Pass a writable folder."
        raise UsageError(msg) from exc
    return folder


def kernel_settings() -> Settings:
    """The settings of this kernel's flyte_jupyter session; outside one, from env and folder.

    Raises
    ------
    SettingsError
        A source holds a bad value (the message names it).
    """
    from IPython.core.getipython import get_ipython

    ipython = get_ipython()
    if ipython is not None:
        for magics in _kernel.magics_registry(ipython).values():
            if isinstance(magics, FlyteMagics):
                return magics.session.settings(activate=False)
    from flyte_jupyter.settings import resolve_settings

    return resolve_settings(start_dir=Path.cwd(), environ=os.environ)


def live_runs(settings: Settings, **filters: Any) -> RunList:
    """:func:`~flyte_jupyter.launch.history.find_runs`, each run displayed live."""
    from flyte_jupyter.display import LiveRun
    from flyte_jupyter.launch.history import RunList, find_runs

    return RunList(LiveRun.of(run) for run in find_runs(settings, **filters))


def show_run_failure(
    shell: InteractiveShell,
    etype: type[BaseException],
    value: BaseException,
    tb: TracebackType | None,
    tb_offset: int | None = None,
) -> list[str]:
    """Show a :class:`RunFailedError` as its message alone, as IPython shows a ``UsageError``.

    The message holds what matters (the run's traceback, mapped to cells, and where its logs
    are); the frames of flyte_jupyter and IPython that raised it do not. flytekit installs
    rich's traceback display on the shell instance, which ignores ``_render_traceback_``, so
    this goes to the shell class's own display (which, in a kernel, also makes the execute
    reply an error, as nbclient and papermill expect).
    """
    del tb_offset
    sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb  # sys.last_value.run
    render = getattr(value, "_render_traceback_", None)
    stb: list[str] = render() if render is not None else [f"{etype.__name__}: {value}"]
    # IPython annotates the structured traceback as str; it is a list of lines
    type(shell)._showtraceback(shell, etype, value, stb)  # type: ignore[arg-type]  # noqa: SLF001
    return stb


def load(ipython: InteractiveShell) -> None:
    """Register the magics, the ``%config`` object and the cell recorder (idempotent)."""
    if any(isinstance(m, FlyteMagics) for m in _kernel.magics_registry(ipython).values()):
        return
    magics = FlyteMagics(ipython)
    magics.session.backfill()
    ipython.register_magics(magics)
    # IPython annotates configurables as list[InteractiveShell]; any Configurable belongs there
    ipython.configurables.append(magics.config_object)  # type: ignore[arg-type]
    # one pair of hooks per kernel: panels listen to the session, not to IPython
    ipython.events.register("pre_run_cell", magics.session.remember_cell)
    ipython.events.register("post_run_cell", magics.session.record)
    if not ipython.custom_exceptions:  # never replace a handler the user or another set
        ipython.set_custom_exc((RunFailedError,), show_run_failure)


def unload(ipython: InteractiveShell) -> None:
    """Stop recording cells and forget the magics' state."""
    registry = _kernel.magics_registry(ipython)
    for magics in list(registry.values()):
        if isinstance(magics, FlyteMagics):
            ipython.events.unregister("pre_run_cell", magics.session.remember_cell)
            ipython.events.unregister("post_run_cell", magics.session.record)
            if ipython.custom_exceptions == (RunFailedError,):
                ipython.set_custom_exc((), None)
            magics.session.close()
            with contextlib.suppress(ValueError):
                ipython.configurables.remove(magics.config_object)  # type: ignore[arg-type]
            del registry[type(magics).__name__]
