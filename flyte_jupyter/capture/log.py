"""The ordered record of executed cells that a kernel keeps."""

from __future__ import annotations

from dataclasses import dataclass, replace

from flyte_jupyter.capture.model import CellRecord


@dataclass(frozen=True)
class CellLog:
    """Executed cells, latest version of each, in execution order.

    A cell executed again with the same cell id replaces its earlier version and moves to the
    end (it ran last). Cells without an id are kept in execution order, each execution its own
    record, so the last definition of a name still wins.
    """

    records: tuple[CellRecord, ...] = ()
    counter: int = 0

    def add(self, cell_id: str | None, source: str, raw: str | None = None) -> CellLog:
        """Return a new log with this execution appended."""
        record = CellRecord(cell_id=cell_id, source=source, raw=raw or source, order=self.counter)
        kept = self.records
        if cell_id is not None:
            kept = tuple(r for r in kept if r.cell_id != cell_id)
        return replace(self, records=(*kept, record), counter=self.counter + 1)

    def __len__(self) -> int:
        return len(self.records)
