r"""A run's log as the run page shows it: one record per line, JSON records as their message.

flytekit (``python-json-logger``: ``asctime``, ``name``, ``levelname``, ``message``,
``exc_info``) and flyte v2 (``timestamp``, ``level``, ``logger``, ``message``, ``exc_info``)
write JSON log records, whose ``\n`` are escaped. Each such line is shown as its level, its
time and its message with real newlines (the traceback of ``exc_info`` after it); any other
line is shown as written. Frames of the generated module are mapped to cells
(:mod:`flyte_jupyter.server.cellmap`).

Secrets: the raw lines are redacted (the run's :class:`~flyte_jupyter.redaction.Redactor`)
and so is every decoded message, because an escaped quote inside JSON hides an assignment
from the text rules (``token=\"abc\"``) until it is decoded.

The log is read only through :func:`flyte_jupyter.server.service.read_log` with the run
folders as its root (no symlink, no hard link). A follower gets complete lines only: while
the run has not ended, a last line without its newline waits for the next read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flyte_jupyter.server.service import read_log

if TYPE_CHECKING:
    from pathlib import Path

    from flyte_jupyter.launch.model import RunRecord
    from flyte_jupyter.redaction import Redactor
    from flyte_jupyter.server.cellmap import CellMap, Segment

_MESSAGE_KEYS = ("message", "msg")
_LEVEL_KEYS = ("levelname", "level", "severity")
_TIME_KEYS = ("asctime", "timestamp", "time", "ts")
_LOGGER_KEYS = ("name", "logger")
_TRACE_KEYS = ("exc_info", "exc_text", "stack_info", "traceback")
LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class LogLine:
    """One shown record: ``level``/``time``/``logger`` only for JSON records."""

    segments: tuple[Segment, ...]
    level: str | None = None
    time: str | None = None
    logger: str | None = None

    @property
    def css_level(self) -> str:
        """``error``, ``warning``... for styling ("" when unknown)."""
        level = (self.level or "").lower()
        return "warning" if level == "warn" else level if level in LEVELS else ""

    def to_json(self) -> dict[str, Any]:
        """The page script's form."""
        return {
            "segments": [s.to_json() for s in self.segments],
            "level": self.level,
            "css_level": self.css_level,
            "time": self.time,
            "logger": self.logger,
        }


@dataclass(frozen=True)
class LogView:
    """Complete lines of the log from byte ``start`` to ``offset`` (the next read's start)."""

    lines: tuple[LogLine, ...]
    start: int
    offset: int
    size: int
    available: bool
    refused: str | None = None

    @property
    def empty(self) -> bool:
        """True when the log file exists but holds nothing."""
        return self.available and self.size == 0


def read_lines(
    record: RunRecord,
    home: Path,
    redactor: Redactor,
    cells: CellMap,
    *,
    tail: int | None = None,
    offset: int | None = None,
) -> LogView:
    """The last ``tail`` lines of the run's log, or its complete lines from ``offset``."""
    chunk = read_log(record.log_path, tail=tail, offset=offset, root=home / "runs")
    if not chunk.available:
        return LogView((), 0, 0, 0, available=False, refused=chunk.refused)
    text, end = chunk.text, chunk.offset
    if not record.done and text and not text.endswith("\n"):
        cut = text.rfind("\n") + 1
        partial = text[cut:]
        if "\ufffd" not in partial:  # its bytes are known: read them again next time
            text, end = text[:cut], end - len(partial.encode("utf-8"))
    lines = tuple(render(line, redactor, cells) for line in text.splitlines())
    return LogView(lines, chunk.start, end, chunk.size, available=True)


def render(line: str, redactor: Redactor, cells: CellMap) -> LogLine:
    """One line of the log as the page shows it (see the module doc)."""
    line = redactor.text(line)
    record = _json_record(line)
    if record is None:
        return LogLine(cells.segments(line))
    message = _first(record, _MESSAGE_KEYS)
    trace = _first(record, _TRACE_KEYS)
    if trace:
        message = f"{message}\n{trace}" if message else trace
    return LogLine(
        segments=cells.segments(redactor.text(message)),
        level=_first(record, _LEVEL_KEYS) or None,
        time=_first(record, _TIME_KEYS) or None,
        logger=_first(record, _LOGGER_KEYS) or None,
    )


def _json_record(line: str) -> dict[str, Any] | None:
    stripped = line.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        data = json.loads(stripped)
    except ValueError:
        return None
    if not isinstance(data, dict) or not any(k in data for k in _MESSAGE_KEYS):
        return None
    return data


def _first(record: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        value = record.get(key)
        if value is not None and value != "":
            return value if isinstance(value, str) else json.dumps(value)
    return ""
