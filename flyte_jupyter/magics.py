"""IPython adapter: record executed cells, and the ``%flyte_*`` magics.

Thin by design: each magic parses its arguments, builds a request from the kernel's state and
calls one core function; errors from the core become ``UsageError`` with the core's message,
which says what to do.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

from flyte_jupyter.bundle.model import COPY_STYLES
from flyte_jupyter.capture import CellLog, defined_names, module_name_for
from flyte_jupyter.errors import FlyteJupyterError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from IPython.core.interactiveshell import ExecutionResult, InteractiveShell

    from flyte_jupyter.bundle import Bundle

_CELL_MAGICS_RECORDED_BY_THEMSELVES = ("%%flyte_run",)


@magics_class
class FlyteMagics(Magics):
    """The ``%flyte_*`` magics and the cell recorder of one kernel."""

    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell)
        self.cells = CellLog()
        self.start_dir = Path.cwd()

    @property
    def ip(self) -> InteractiveShell:
        """The shell these magics belong to (always set once registered)."""
        shell = self.shell
        if shell is None:  # pragma: no cover - IPython sets it in Magics.__init__
            msg = "FlyteMagics is not attached to an IPython shell"
            raise RuntimeError(msg)
        return shell

    # -- recording -------------------------------------------------------------------------

    def record(self, result: ExecutionResult) -> None:
        """``post_run_cell`` hook: keep the cell if it ran (its definitions now exist)."""
        info = result.info
        if info is None or info.silent or result.error_before_exec is not None:
            return
        raw = info.raw_cell or ""
        if raw.lstrip().startswith(_CELL_MAGICS_RECORDED_BY_THEMSELVES) or not raw.strip():
            return
        self.add_cell(getattr(info, "cell_id", None), raw)

    def add_cell(self, cell_id: str | None, raw: str) -> None:
        """Record one executed cell (IPython syntax is transformed to Python first)."""
        source = self.ip.transform_cell(raw)
        self.cells = self.cells.add(cell_id, source, raw)

    def backfill(self) -> None:
        """Record cells executed before ``%load_ext`` from the kernel's input history."""
        history = getattr(self.ip.history_manager, "input_hist_raw", [])
        for raw in history[1:]:
            if raw.strip() and "load_ext flyte_jupyter" not in raw:
                self.add_cell(None, raw)

    # -- kernel state --------------------------------------------------------------------------

    def notebook_path(self) -> str | None:
        """The notebook's path as the server named the session, if known."""
        session = self.ip.user_ns.get("__session__") or os.environ.get("JPY_SESSION_NAME")
        return str(session) if session else None

    def home(self) -> Path:
        """``$FLYTE_JUPYTER_HOME`` (read now, not at import), default ``~/.flyte_jupyter``."""
        return Path(os.environ.get("FLYTE_JUPYTER_HOME") or "~/.flyte_jupyter").expanduser()

    def entities(self, names: list[str]) -> tuple[list[str], list[str]]:
        """Validate target names; return them and those defined in notebook cells."""
        from flyte_jupyter.serialize import defined_in_notebook, entity_kind

        ns = self.ip.user_ns
        if not names:
            names = [n for n in defined_names(self.cells.records) if entity_kind(ns.get(n))]
            if not names:
                msg = (
                    "No task or workflow is defined in this notebook yet. Define one with "
                    "@task or @workflow in a cell, run it, then try again."
                )
                raise UsageError(msg)
        for name in names:
            if name not in ns:
                msg = f"{name!r} is not defined in this kernel. Run the cell that defines it."
                raise UsageError(msg)
            if entity_kind(ns[name]) is None:
                kind = type(ns[name]).__name__
                msg = f"{name!r} is a {kind}, not a Flyte task or workflow: decorate it."
                raise UsageError(msg)
        return names, [n for n in names if defined_in_notebook(ns[n])]

    # -- magics --------------------------------------------------------------------------------

    @magic_arguments()
    @argument("entities", nargs="*", help="Tasks/workflows to ship (default: all in the notebook).")
    @argument("--copy-style", choices=COPY_STYLES, default="auto", help="Which files to ship.")
    @argument("--root-dir", help="Folder whose files may ship (default: the notebook's folder).")
    @line_magic
    def flyte_bundle(self, line: str) -> Bundle | None:
        """Build the source bundle for tasks/workflows, without uploading it.

        Shows the files, sizes, digest, the module generated from the notebook, the
        statements left out of it and the files excluded, with the rule that excluded each.
        """
        from flyte_jupyter.prepare import BundleJob, prepare_bundle

        args = parse_argstring(self.flyte_bundle, line)
        names, in_notebook = self.entities(list(args.entities))
        job = BundleJob(
            cells=self.cells.records,
            targets=tuple(names),
            notebook_defined=tuple(in_notebook),
            module_name=module_name_for(self.notebook_path()),
            root_dir=Path(args.root_dir).expanduser() if args.root_dir else self.start_dir,
            copy_style=args.copy_style,
            cache_dir=self.home() / "cache",
            loaded_modules=_loaded_modules(),
        )
        with _usage_errors():
            bundle = prepare_bundle(job)
        if bundle is None:
            msg = "copy style 'none' makes no bundle: the code must already be in the image."
            raise UsageError(msg)
        return bundle


def _loaded_modules() -> dict[str, str]:
    return {
        name: file
        for name, module in list(sys.modules.items())
        if name != "__main__"  # the kernel's launcher script, never user code
        and (file := getattr(module, "__file__", None))
        and isinstance(file, str)
    }


@contextlib.contextmanager
def _usage_errors() -> Iterator[None]:
    """Translate core errors into UsageError, which IPython shows without a traceback."""
    try:
        yield
    except FlyteJupyterError as exc:
        raise UsageError(str(exc)) from exc


def load(ipython: InteractiveShell) -> None:
    """Register the magics and the ``post_run_cell`` recorder (idempotent)."""
    if any(isinstance(m, FlyteMagics) for m in ipython.magics_manager.registry.values()):
        return
    magics = FlyteMagics(ipython)
    magics.backfill()
    ipython.register_magics(magics)
    ipython.events.register("post_run_cell", magics.record)


def unload(ipython: InteractiveShell) -> None:
    """Stop recording cells."""
    for magics in list(ipython.magics_manager.registry.values()):
        if isinstance(magics, FlyteMagics):
            ipython.events.unregister("post_run_cell", magics.record)
            del ipython.magics_manager.registry[type(magics).__name__]
