"""Immutable records of executed cells and of the module built from them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CellRecord:
    """One execution of one cell, as the kernel ran it.

    Parameters
    ----------
    cell_id
        The notebook cell id sent by the frontend (JupyterLab sends it in the execute
        request's metadata), or None when the frontend sends none.
    source
        The cell's Python source after IPython's input transformation (magics become
        ``get_ipython()`` calls, which the module builder drops).
    raw
        The cell as typed, for error messages.
    order
        Position in execution order (monotonic within a kernel session).
    execution_count
        The ``[N]`` the notebook shows for this execution, for messages only (it never
        reaches the module text).
    """

    cell_id: str | None
    source: str
    raw: str
    order: int
    execution_count: int | None = None

    @property
    def label(self) -> str:
        """How messages name this cell: ``cell [5]`` as the notebook shows it."""
        if self.execution_count:
            return f"cell [{self.execution_count}]"
        return f"cell {self.cell_id}" if self.cell_id else f"cell #{self.order + 1}"


@dataclass(frozen=True)
class Dropped:
    """A top-level statement left out of the generated module, and why."""

    cell: str
    line: int
    code: str
    reason: str


@dataclass(frozen=True)
class CapturedModule:
    """A module generated from notebook cells.

    Parameters
    ----------
    name
        Importable module name, e.g. ``nb_quickstart``.
    source
        The module text: a pure function of the relevant cell sources.
    entities
        Names of the tasks/workflows the module was built for.
    dropped
        Statements of the recorded cells that were left out because they are not
        definitions (magics, shell escapes, side effects).
    origins
        ``(module line, cell label, cell line)`` where each kept statement starts, to point
        errors in the module back at the cell they came from.
    """

    name: str
    source: str
    entities: tuple[str, ...]
    dropped: tuple[Dropped, ...]
    origins: tuple[tuple[int, str, int], ...] = ()

    def origin(self, line: int) -> str:
        """Where module line ``line`` came from, e.g. ``cell abc, line 3``."""
        best = None
        for start, cell, cell_line in self.origins:
            if start <= line:
                best = (cell, cell_line + line - start)
        return f"{best[0]}, line {best[1]}" if best else f"{self.filename}, line {line}"

    @property
    def filename(self) -> str:
        """File name of the module inside the bundle."""
        return f"{self.name}.py"
