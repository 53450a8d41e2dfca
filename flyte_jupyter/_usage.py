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


HELP_FLAGS = frozenset({"-h", "--help"})


def show_help(magic: Any, options: str) -> bool:
    """Print the magic's help and return True when its options ask for it (``-h``/``--help``).

    Checked before the options are parsed, so ``--help`` works whatever else the line holds
    or lacks (a call, a required ``--folder``): as with any command-line tool, asking for help
    does nothing else.
    """
    try:
        argv = split_options(options)
    except UsageError:
        return False
    if HELP_FLAGS.isdisjoint(argv):
        return False
    print(help_text(magic))  # noqa: T201 - the user asked for it, as argparse prints it
    return True


def help_text(magic: Any) -> str:
    """The magic's usage, description and options, as argparse formats them."""
    text: str = magic.parser.format_help()
    # magic_arguments formats the usage as a reST literal block ("::") for the docstring
    if text.startswith("::"):
        text = "Usage:" + text[2:]
    return text.rstrip() + "\n"


def split_options(line: str) -> list[str]:
    """Split a magic's option text as a shell would: quotes group words and are removed.

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
    return argv


def parse_options(magic: Any, line: str) -> argparse.Namespace:
    """Parse a magic's options (split by :func:`split_options`) with its argparse parser."""
    return magic.parser.parse_args(split_options(line))  # type: ignore[no-any-return]


@contextlib.contextmanager
def usage_errors() -> Iterator[None]:
    """Translate core errors into UsageError, which IPython shows without a traceback."""
    try:
        yield
    except FlyteJupyterError as exc:
        raise UsageError(str(exc)) from exc
