"""Point a run's traceback back at notebook cells: ``nb_x.py, line 10`` is ``cell [4], line 4``.

The generated module knows where each of its statements came from
(:attr:`CapturedModule.origins`); a run executes that module far from the notebook, so its
tracebacks name ``.../work/nb_quickstart.py``. :class:`CellOrigins` keeps the mapping with the
run and rewrites such frames. Pure functions, no I/O.

Stored format
-------------
A run records the mapping in its run store row, ``extra["cell_origins"]`` (see
:data:`EXTRA_KEY`), as JSON::

    {"file": "nb_quickstart.py",
     "lines": [[10, "cell [4]", 1], [17, "cell [5]", 2], ...]}

``file`` is the module's file name inside the bundle (frames are matched on this base name,
whatever folder the run extracted the bundle to). Each ``lines`` entry is ``[module line,
cell label, cell line]`` where one kept statement starts, sorted by module line: module line
``n`` maps to the last entry whose module line ``m <= n``, at cell line ``cell line + n - m``.
Labels are how the notebook showed the cell when the run was launched (``cell [4]``, or
``cell <id>`` / ``cell #3`` when it had no execution count). Runs of copy style ``none`` and
runs recorded before the mapping existed have no entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from flyte_jupyter.capture.model import CapturedModule

EXTRA_KEY = "cell_origins"
"""The key of a run record's ``extra`` holding its :class:`CellOrigins` as JSON."""


@dataclass(frozen=True)
class CellOrigins:
    """Where each statement of a generated module came from, to rewrite traceback frames.

    Parameters
    ----------
    file
        The module's file name, e.g. ``nb_quickstart.py``.
    lines
        ``(module line, cell label, cell line)`` where each kept statement starts, sorted.
    """

    file: str
    lines: tuple[tuple[int, str, int], ...]

    @classmethod
    def of(cls, module: CapturedModule) -> CellOrigins:
        """The mapping of a generated module."""
        return cls(module.filename, tuple(sorted(module.origins)))

    @classmethod
    def from_json(cls, data: Any) -> CellOrigins | None:
        """Read the stored form (None when absent or not in the format above)."""
        if not isinstance(data, dict):
            return None
        file, lines = data.get("file"), data.get("lines")
        if not isinstance(file, str) or not isinstance(lines, list):
            return None
        parsed = []
        for item in lines:
            if not (isinstance(item, list) and len(item) == 3):  # noqa: PLR2004 - a triple
                return None
            start, label, cell_line = item
            if not (isinstance(start, int) and isinstance(label, str)):
                return None
            if not isinstance(cell_line, int):
                return None
            parsed.append((start, label, cell_line))
        return cls(file, tuple(sorted(parsed)))

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> CellOrigins | None:
        """The mapping a run record keeps in its ``extra`` (None if it has none)."""
        return cls.from_json(extra.get(EXTRA_KEY))

    def to_json(self) -> dict[str, Any]:
        """The stored form (see the module docstring)."""
        return {"file": self.file, "lines": [list(item) for item in self.lines]}

    def where(self, line: int) -> tuple[str, int] | None:
        """``(cell label, cell line)`` of module line ``line``, or None before the first."""
        best = None
        for start, label, cell_line in self.lines:
            if start > line:
                break
            best = (label, cell_line + line - start)
        return best

    def map_text(self, text: str) -> str:
        """``text`` with every traceback frame in the module pointed at its cell.

        ``File ".../nb_x.py", line 10, in boom`` becomes
        ``cell [4], line 4, in boom (nb_x.py, line 10)``; other frames stay as they are.
        """
        pattern = re.compile(
            # Python's tracebacks say ", in f"; faulthandler's (a crashed run) say " in f"
            r'File "(?:[^"\n]*[\\/])?' + re.escape(self.file) + r'", line (\d+)(,? in [^\n]*)?'
        )

        def replace(match: re.Match[str]) -> str:
            line = int(match.group(1))
            found = self.where(line)
            if found is None:
                return match.group(0)
            label, cell_line = found
            where = (match.group(2) or "").rstrip()  # logs pad lines to the console's width
            if where and not where.startswith(","):
                where = "," + where
            return f"{label}, line {cell_line}{where} ({self.file}, line {line})"

        return pattern.sub(replace, text)
