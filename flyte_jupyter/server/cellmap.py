"""Point traceback frames of the generated module back at notebook cells.

A run's code is the generated module ``nb_<name>.py``, so its tracebacks say
``File ".../nb_demo.py", line 10``. The capture knows where each kept statement came from
(:attr:`flyte_jupyter.capture.model.CapturedModule.origins`: module line, cell label, cell
line), and a run records that table in its run store row
(:mod:`flyte_jupyter.capture.origins`, ``extra["cell_origins"]``): with it, a frame is
followed by "cell [4], line 4", linked to the module's line on the page. Without it (copy
style none, older runs) the frame links to the module's line only: the module's text alone
does not say which cell a line came from (the capture writes no markers in it, so that the
text stays a pure function of the cells' code).

Text is cut into :class:`Segment` s; the templates and the page script show each one as
text (escaped), and a segment with a reference as a link to the module's line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

LINE_ANCHOR = "fj-L"  # ids of the generated module's lines on the page: fj-L-<n>


@dataclass(frozen=True)
class CellRef:
    """Where a frame's module line came from, as the page shows it after the frame."""

    label: str  # "cell [4], line 4", or "line 10 of the generated module"
    line: int  # the module's line (the page links to it)

    @property
    def href(self) -> str:
        """The link to the module's line on the run page."""
        return f"#{LINE_ANCHOR}-{self.line}"


@dataclass(frozen=True)
class Segment:
    """A piece of shown text; ``ref`` follows it when it ends a frame of the module."""

    text: str
    ref: CellRef | None = None

    def to_json(self) -> dict[str, Any]:
        """The page script's form."""
        ref = self.ref
        return {
            "text": self.text,
            "ref": None if ref is None else {"label": ref.label, "href": ref.href},
        }


@dataclass(frozen=True)
class CellMap:
    """Module lines to cells for one run's generated module."""

    module: str | None  # the module name, e.g. nb_demo (None: nothing to map)
    origins: tuple[tuple[int, str, int], ...] = ()
    source_lines: tuple[str, ...] = ()

    @property
    def mapped(self) -> bool:
        """True when frames are mapped to cells (not only to module lines)."""
        return bool(self.origins)

    def where(self, line: int) -> CellRef | None:
        """The reference of module line ``line``."""
        best = None
        for start, cell, cell_line in self.origins:
            if start <= line:
                best = (cell, cell_line + line - start)
        if best is not None:
            return CellRef(f"{best[0]}, line {best[1]}", line)
        if self.module is None or not 0 < line <= len(self.source_lines):
            return None
        return CellRef(f"line {line} of the generated module", line)

    def segments(self, text: str) -> tuple[Segment, ...]:
        """``text`` cut after each frame of the module, each frame with its reference."""
        if not self.module or f"{self.module}.py" not in text:
            return (Segment(text),)
        pattern = _frame_pattern(self.module)
        out: list[Segment] = []
        last = 0
        for match in pattern.finditer(text):
            ref = self.where(int(match["line"]))
            if ref is None:
                continue
            out.append(Segment(text[last : match.end()], ref))
            last = match.end()
        if last < len(text) or not out:
            out.append(Segment(text[last:]))
        return tuple(out)


def _frame_pattern(module: str) -> re.Pattern[str]:
    """A traceback frame of the module: ``File ".../nb_demo.py", line 10, in square``."""
    name = re.escape(f"{module.rpartition('.')[2]}.py")
    return re.compile(rf'File "(?:[^"\n]*/)?{name}", line (?P<line>\d+)(?:, in [\w<>.]+)?')


def cell_map(module: str | None, source: str | None, origins: Iterable[Any]) -> CellMap:
    """The map of a run: its module's name and text, and the origins its folder records."""
    return CellMap(
        module=module,
        origins=tuple(origins),
        source_lines=tuple((source or "").splitlines()),
    )
