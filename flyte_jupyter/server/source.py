"""The generated module as highlighted HTML (pygments), each line with an id to link to.

pygments escapes the source it is given (``<``, ``&``, quotes), so its output is the one
piece of run data the page inserts as markup; the source it gets is already redacted. Its
style sheet is the package's own, for a light and a dark scheme (see ``static/run.css``).
"""

from __future__ import annotations

import functools

from markupsafe import Markup

from flyte_jupyter.server.cellmap import LINE_ANCHOR

MAX_HIGHLIGHT = 256 * 1024  # characters; a larger module is shown as plain text
CSS_CLASS = "fj-hl"


def highlighted(source: str) -> Markup | None:
    """The module as ``<div class="fj-hl">`` markup with numbered lines, or None if too big."""
    if len(source) > MAX_HIGHLIGHT:
        return None
    from pygments import highlight  # type: ignore[import-untyped]
    from pygments.formatters import HtmlFormatter  # type: ignore[import-untyped]
    from pygments.lexers import PythonLexer  # type: ignore[import-untyped]

    formatter = HtmlFormatter(
        cssclass=CSS_CLASS,
        linenos="inline",
        linespans=LINE_ANCHOR,  # <span id="fj-L-10">: the target of a frame's link
        wrapcode=True,
    )
    # pygments escapes every character of the source it writes: nothing in it is markup
    return Markup(highlight(source, PythonLexer(), formatter))  # noqa: S704


@functools.cache
def style_sheet() -> Markup:
    """Token colours of the highlighted module: light, and dark under the page's dark theme.

    The page is dark when JupyterLab names a dark theme (``data-theme='dark'``) or, without a
    name, when the browser prefers it: the same two rules as ``static/run.css``.
    """
    from pygments.formatters import HtmlFormatter

    light = HtmlFormatter(style="default").get_token_style_defs(f".{CSS_CLASS}")
    dark = HtmlFormatter(style="monokai")
    named = dark.get_token_style_defs(f":root[data-theme='dark'] .{CSS_CLASS}")
    preferred = dark.get_token_style_defs(f":root:not([data-theme='light']) .{CSS_CLASS}")
    css = "\n".join([*light, *named, "@media (prefers-color-scheme: dark) {", *preferred, "}"])
    return Markup(css)  # noqa: S704 - pygments' own CSS, no run data
