"""Classify top-level statements of recorded cells and find the names they bind and use.

Pure functions over source text: no IPython, no I/O. Scoping comes from :mod:`symtable`, so a
name a function binds locally is never mistaken for a dependency on a global of that name.
"""

from __future__ import annotations

import ast
import symtable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flyte_jupyter.errors import CaptureError
from flyte_jupyter.redaction import redact_text

if TYPE_CHECKING:
    from collections.abc import Iterator

    from flyte_jupyter.capture.model import CellRecord

# Names the IPython shell injects into the user namespace: they do not exist in a run.
IPYTHON_ONLY = frozenset({"get_ipython", "display", "In", "Out", "exit", "quit"})
_COMPREHENSIONS = frozenset({"listcomp", "setcomp", "dictcomp", "genexpr"})
_IPYTHON_CALLS = {
    "run_line_magic": "IPython magic",
    "run_cell_magic": "IPython cell magic",
    "system": "shell escape",
    "getoutput": "shell escape",
}


@dataclass(frozen=True)
class Statement:
    """One top-level statement of one recorded cell.

    ``binds`` are the module-level names it defines; ``early`` the global names it needs while
    it runs (decorators, defaults, annotations, class bodies, assigned values); ``late`` the
    global names its functions need when they are called; ``drop`` the reason it is not a
    definition (None for definitions); ``gap`` the lines (blank lines, comments) between the
    previous top-level statement of the cell and this one.
    """

    cell: CellRecord
    index: int
    node: ast.stmt
    text: str
    binds: frozenset[str]
    early: frozenset[str]
    late: frozenset[str]
    star: bool
    future: bool
    drop: str | None
    gap: str = ""

    @property
    def first_line(self) -> int:
        """Line of the cell where the statement (with its decorators) starts."""
        return _first_line(self.node)


def parse_cell(cell: CellRecord, first_index: int) -> list[Statement]:
    """Split a recorded cell into classified top-level statements."""
    try:
        tree = ast.parse(cell.source)
    except SyntaxError as exc:
        msg = f"{cell.label} has a syntax error at line {exc.lineno}: {exc.msg}. Fix the cell."
        raise CaptureError(msg) from exc
    lines = cell.source.splitlines(keepends=True)
    shared = _shared_lines(tree.body)
    out = []
    previous_end = 0
    for offset, node in enumerate(tree.body):
        drop = _drop_reason(node)
        text = _statement_text(node, lines, cell.source, shared)
        binds: frozenset[str] = frozenset()
        early: frozenset[str] = frozenset()
        late: frozenset[str] = frozenset()
        if not drop:
            table = _symbol_table(text, node, cell)
            binds = _bound_names(table, node)
            early, late = _used_names(table, node)
        out.append(
            Statement(
                cell=cell,
                index=first_index + offset,
                node=node,
                text=text,
                binds=binds,
                early=early,
                late=late,
                star=_is_star(node),
                future=isinstance(node, ast.ImportFrom) and node.module == "__future__",
                drop=drop,
                gap="".join(lines[previous_end : max(previous_end, _first_line(node) - 1)]),
            )
        )
        previous_end = node.end_lineno or node.lineno
    return out


def display_code(stmt: Statement) -> str:
    """The statement as the user typed it (magics shown in their ``%`` form when possible).

    Secrets in it are hidden (``%env AWS_SECRET_ACCESS_KEY=***``): the text is shown by
    ``%flyte_bundle``, the panel and run pages, and written to the run's ``bundle.json``.
    """
    raw = stmt.cell.raw.splitlines()
    if len(raw) == len(stmt.cell.source.splitlines()):
        start = _first_line(stmt.node)
        return redact_text("\n".join(raw[start - 1 : stmt.node.end_lineno]).strip())
    return redact_text(stmt.text.strip())


def _shared_lines(body: list[ast.stmt]) -> set[int]:
    seen: dict[int, int] = {}
    for node in body:
        for line in range(_first_line(node), (node.end_lineno or node.lineno) + 1):
            seen[line] = seen.get(line, 0) + 1
    return {line for line, n in seen.items() if n > 1}


def _first_line(node: ast.stmt) -> int:
    decorators: list[ast.expr] = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _statement_text(node: ast.stmt, lines: list[str], source: str, shared: set[int]) -> str:
    start, end = _first_line(node), node.end_lineno or node.lineno
    if start in shared or end in shared:
        segment = ast.get_source_segment(source, node)
        if segment is not None and not getattr(node, "decorator_list", None):
            return segment + "\n"
    return "".join(lines[start - 1 : end]).rstrip() + "\n"


def _ipython_call(node: ast.AST) -> str | None:
    """Name the IPython feature if ``node`` contains a ``get_ipython()`` call."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute):
            owner = sub.func.value
            if (
                isinstance(owner, ast.Call)
                and isinstance(owner.func, ast.Name)
                and owner.func.id == "get_ipython"
            ):
                return _IPYTHON_CALLS.get(sub.func.attr, "get_ipython() call")
        if isinstance(sub, ast.Name) and sub.id == "get_ipython":
            return "get_ipython() call"
    return None


def _drop_reason(node: ast.stmt) -> str | None:  # noqa: PLR0911 - one return per statement kind
    ipython = _ipython_call(node)
    if isinstance(node, ast.Expr):
        return ipython or "top-level expression (side effect)"
    if ipython and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return ipython
    if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    if isinstance(node, ast.ClassDef | ast.Assign | ast.AugAssign):
        return None
    if isinstance(node, ast.AnnAssign):
        return None if node.value is not None else "annotation without a value"
    if isinstance(node, ast.If) and _is_main_guard(node):
        return "`if __name__ == '__main__'` block"
    if isinstance(node, ast.If | ast.Try) and all(
        _drop_reason(child) is None for child in _compound_body(node)
    ):
        return None
    if isinstance(node, ast.Pass):
        return "pass"
    return f"top-level `{type(node).__name__.lower()}` statement (side effect)"


def _compound_body(node: ast.If | ast.Try) -> Iterator[ast.stmt]:
    if isinstance(node, ast.If):
        yield from node.body
        yield from node.orelse
        return
    yield from node.body
    for handler in node.handlers:
        yield from handler.body
    yield from node.orelse
    yield from node.finalbody


def _is_main_guard(node: ast.If) -> bool:
    test = node.test
    return (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and test.left.id == "__name__"
    )


def _is_star(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names)


def _symbol_table(text: str, node: ast.stmt, cell: CellRecord) -> symtable.SymbolTable:
    """The symbol table of one statement, from the text the user typed.

    The text is analysed as written rather than regenerated with :func:`ast.unparse`, whose
    recursion fails on long expressions (a 600-term ``1 + 1 + ...``) that the kernel runs
    fine. A shared-line segment that does not parse alone falls back to the unparsed form.
    """
    try:
        return symtable.symtable(text, "<cell>", "exec")
    except SyntaxError:  # shared-line segment of a compound statement: use the unparsed form
        pass
    try:
        return symtable.symtable(ast.unparse(node), "<cell>", "exec")
    except (RecursionError, SyntaxError) as exc:
        msg = (
            f"{cell.label}, line {node.lineno}: the statement is too deeply nested to analyse "
            f"({type(exc).__name__}). Split it into shorter statements on their own lines, "
            "or put it in a local module, then run the cell again."
        )
        raise CaptureError(msg) from exc


def _bound_names(table: symtable.SymbolTable, node: ast.stmt) -> frozenset[str]:
    """Module-level names a definition statement binds (or rebinds by mutation)."""
    names = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    names |= _mutated_roots(node)
    return frozenset(names)


def _mutated_roots(node: ast.stmt) -> set[str]:
    """``x`` for ``x[k] = v``, ``x.a = v`` and ``x += v``: statements that change ``x``."""
    if isinstance(node, ast.Assign):
        targets = node.targets
    elif isinstance(node, ast.AugAssign | ast.AnnAssign):
        targets = [node.target]
    else:
        return set()
    roots = set()
    for target in targets:
        root: ast.expr = target
        while isinstance(root, ast.Attribute | ast.Subscript):
            root = root.value
        if isinstance(root, ast.Name) and (root is not target or isinstance(node, ast.AugAssign)):
            roots.add(root.id)
    return roots


def _used_names(
    table: symtable.SymbolTable, node: ast.stmt
) -> tuple[frozenset[str], frozenset[str]]:
    """Global names a statement needs at definition time and at call time."""
    early: set[str] = set()
    late: set[str] = set()
    for sym in table.get_symbols():
        if sym.is_referenced():
            early.add(sym.get_name())
    for child in table.get_children():
        _collect(child, early, late, at_definition=True)
    early |= _mutated_roots(node)
    return frozenset(early), frozenset(late - early)


def _collect(
    table: symtable.SymbolTable, early: set[str], late: set[str], *, at_definition: bool
) -> None:
    # get_type() is a str on 3.10-3.12 and a StrEnum on 3.13+: compare as text.
    runs_now = at_definition and (
        str(table.get_type()).lower().endswith("class") or table.get_name() in _COMPREHENSIONS
    )
    target = early if runs_now else late
    for sym in table.get_symbols():
        if sym.is_referenced() and sym.is_global():  # implicit or declared `global`
            target.add(sym.get_name())
    for child in table.get_children():
        _collect(child, early, late, at_definition=runs_now)
