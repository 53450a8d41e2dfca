"""The ordered record of executed cells that a kernel keeps."""

from __future__ import annotations

from dataclasses import dataclass, replace

from flyte_jupyter.capture.model import CellRecord
from flyte_jupyter.errors import CaptureError


@dataclass(frozen=True)
class CellLog:
    """Executed cells, latest version of each, in execution order.

    A cell executed again with the same cell id replaces its earlier version and moves to the
    end (it ran last). Cells without an id are kept in execution order, each execution its own
    record, so the last definition of a name still wins.

    Re-running a cell *unchanged* keeps its place when no cell run after it binds any of the
    names it binds: moving it could not change any value, and keeping it keeps the module's
    text, so the bundle's digest, the same.
    """

    records: tuple[CellRecord, ...] = ()
    counter: int = 0

    def add(
        self,
        cell_id: str | None,
        source: str,
        raw: str | None = None,
        execution_count: int | None = None,
    ) -> CellLog:
        """Return a new log with this execution recorded."""
        if execution_count is not None and any(
            r.execution_count == execution_count for r in self.records
        ):
            execution_count = None  # not counting (store_history=False): label by order
        same = self._same_cell(cell_id, source)
        if same is not None and not self._rebound_after(same):
            kept = tuple(
                replace(r, execution_count=execution_count) if r is same else r
                for r in self.records
            )
            return replace(self, records=kept)
        record = CellRecord(
            cell_id=cell_id,
            source=source,
            raw=raw or source,
            order=self.counter,
            execution_count=execution_count,
        )
        kept = self.records
        if cell_id is not None:
            kept = tuple(r for r in kept if r.cell_id != cell_id)
        return replace(self, records=(*kept, record), counter=self.counter + 1)

    def _same_cell(self, cell_id: str | None, source: str) -> CellRecord | None:
        """The earlier record of this very cell with this very source, if any."""
        for record in reversed(self.records):
            if cell_id is not None and record.cell_id == cell_id:
                return record if record.source == source else None
            if cell_id is None and record.cell_id is None and record.source == source:
                return record
        return None

    def _rebound_after(self, record: CellRecord) -> bool:
        """True if a cell recorded after ``record`` binds a name ``record`` binds."""
        from flyte_jupyter.capture.analyze import parse_cell

        later = [r for r in self.records if r.order > record.order]
        if not later:
            return False
        try:
            names = {n for s in parse_cell(record, 0) for n in s.binds}
            return any(names & s.binds for r in later for s in parse_cell(r, 0))
        except CaptureError:
            return True

    def __len__(self) -> int:
        return len(self.records)
