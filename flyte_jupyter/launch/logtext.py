r"""A run's log as people read it: JSON log lines shown as their messages, secrets hidden.

flytekit and flyte v2 log JSON lines (``{"asctime": ..., "levelname": "ERROR", "message":
"Traceback ...\n..."}``) with every line break escaped; a user wants the message. Plain lines
(what the task printed) stay as they are. :class:`RunLog` is what ``run.logs()`` gives a
notebook: a ``str`` (the log exactly as written, for code) whose notebook display is the
readable text, redacted. Pure Python: no IPython needed for ``_repr_html_``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flyte_jupyter._html import escape
from flyte_jupyter.redaction import Redactor, redact_text

if TYPE_CHECKING:
    from typing import Self

__all__ = ["RunLog", "readable_lines", "tail_lines"]

_QUIET_LEVELS = frozenset({"", "INFO", "DEBUG"})  # shown without a level prefix
_PRE_STYLE = (
    "white-space:pre-wrap;word-break:break-word;max-height:32em;overflow:auto;"
    "margin:2px 0;padding:4px 6px;background:var(--jp-layout-color2,#f6f8fa);"
    "color:var(--jp-content-font-color1,#1f2328)"
)
_MUTED = "color:var(--jp-content-font-color2,#6e7781);font-style:italic"


def readable_line(line: str) -> str:
    r"""One log line as a reader wants it: a JSON log record becomes its (level and) message.

    ``{"levelname": "ERROR", "message": "boom\nline 2"}`` -> ``ERROR boom`` + newline +
    ``line 2``; an exception the record carries (``exc_info``) follows the message. Any other
    line, JSON or not, is returned unchanged.
    """
    stripped = line.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return line
    try:
        data = json.loads(stripped)
    except ValueError:
        return line
    if not isinstance(data, dict) or "message" not in data:
        return line
    message = str(data["message"])
    level = str(data.get("levelname") or data.get("level") or "").upper()
    text = message if level in _QUIET_LEVELS else f"{level} {message}"
    extra = data.get("exc_info") or data.get("exception")
    if extra:
        text += "\n" + str(extra)
    return text


def readable_lines(text: str) -> list[str]:
    """The log's lines after :func:`readable_line` (a message's own line breaks split it)."""
    lines: list[str] = []
    for line in text.splitlines():
        lines.extend(readable_line(line).splitlines() or [""])
    return lines


def readable_text(text: str, redactor: Redactor | None = None) -> str:
    """The whole log, readable and redacted (also the values ``redactor`` knows)."""
    shown = "\n".join(readable_lines(text))
    return redactor.text(shown) if redactor is not None else redact_text(shown)


def tail_lines(text: str, n: int = 20, redactor: Redactor | None = None) -> list[str]:
    """The last ``n`` readable lines of ``text``, redacted (also the values ``redactor`` knows)."""
    shown = "\n".join(readable_lines(text)[-n:])
    return (redactor.text(shown) if redactor is not None else redact_text(shown)).splitlines()


def log_html(text: str, *, empty: str, redactor: Redactor | None = None) -> str:
    """``<pre>`` of the readable, redacted log; ``empty`` (in italics) when it has no text."""
    shown = readable_text(text, redactor)
    if not shown.strip():
        return f"<div class='flyte-jupyter-log-empty' style='{_MUTED}'>{escape(empty)}</div>"
    return f"<pre class='flyte-jupyter-log' style='{_PRE_STYLE}'>{escape(shown)}</pre>"


class RunLog(str):
    """What ``run.logs()`` returns: the log as written, displayed readable in a notebook.

    A ``str`` for code (``"Traceback" in r.logs()``, ``print(r.logs())``); in a notebook it
    shows each JSON log line as its message, secrets hidden, and an empty log says so
    ("no output yet" while the run is active, "the run wrote no output" once it ended).

    Parameters
    ----------
    text
        The log text.
    ended
        Whether the run has ended (only changes what an empty log says).
    redactor
        Secret values to hide besides those the text rules find (e.g. the kernel's
        environment's); the ``str`` itself is the log as written.
    """

    __slots__ = ("ended", "redactor")
    ended: bool
    redactor: Redactor | None

    def __new__(  # noqa: D102
        cls, text: str = "", *, ended: bool = True, redactor: Redactor | None = None
    ) -> Self:
        made = super().__new__(cls, text)
        made.ended = ended
        made.redactor = redactor
        return made

    @property
    def readable(self) -> str:
        """The log as the notebook shows it: messages of JSON lines, redacted."""
        return readable_text(str(self), self.redactor)

    def _empty_text(self) -> str:
        return "(the run wrote no output)" if self.ended else "(no output yet)"

    def _repr_html_(self) -> str:
        return log_html(str(self), empty=self._empty_text(), redactor=self.redactor)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # noqa: FBT001 - IPython's API
        del cycle
        printer.text(self.readable or self._empty_text())
