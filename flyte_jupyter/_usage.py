"""What the magics share with ``%%flyte_run``'s body: option parsing and error translation.

Only the magics talk to IPython's error display: core errors become ``UsageError`` here (IPython
shows it without a traceback; it checks ``etype is UsageError``, so subclasses would show one).
"""

from __future__ import annotations

import contextlib
import shlex
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from flyte_jupyter.errors import FlyteJupyterError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator


def parse_options(magic: Any, line: str) -> argparse.Namespace:
    """Parse a magic's options as a shell would: quotes group words and are removed.

    IPython's ``parse_argstring`` splits in shlex's non-POSIX mode, which keeps the quotes in
    the value: ``--root-dir "my dir"`` named a folder ``"my dir"``, quotes included.
    Backslashes stay literal, so Windows paths keep their separators.
    """
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    lexer.escape = ""
    try:
        argv = list(lexer)
    except ValueError as exc:  # shlex: "No closing quotation"
        msg = f'Cannot read the options ({exc}): close every quote, e.g. --root-dir "my dir".'
        raise UsageError(msg) from exc
    return magic.parser.parse_args(argv)  # type: ignore[no-any-return]


@contextlib.contextmanager
def usage_errors() -> Iterator[None]:
    """Translate core errors into UsageError, which IPython shows without a traceback."""
    try:
        yield
    except FlyteJupyterError as exc:
        raise UsageError(str(exc)) from exc
