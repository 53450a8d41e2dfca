"""Text for rich displays: HTML-escaped, and printable whatever bytes a file name holds."""

from __future__ import annotations

import html
import os


def escape(text: object) -> str:
    """HTML-escape anything shown in a rich display (see :func:`printable` for odd names)."""
    return html.escape(printable(str(text)), quote=True)


def printable(text: str) -> str:
    r"""``text`` as valid Unicode: a file name that is not UTF-8 shows its bytes as ``\xe9``.

    ``os.fsdecode`` keeps such bytes as lone surrogates (``caf\udce9.txt``), which no UTF-8
    output (a notebook, a web page, JSON messages) can carry.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    return text
