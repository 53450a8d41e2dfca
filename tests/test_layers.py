"""The layers contract, enforced over every module of the package (lazy imports included).

::

    adapters     magics, _launching, _deploying, _usage, _traits, display, widgets, server,
                 the package root
    application  session, submit, deploy, prepare, _kernel
    launch       launch (launchers, run store, Run, supervisor)
    core         settings | store | serialize | runtime   (peers: none imports another)
                 bundle
                 capture
                 worker   (the warm worker: jobs in children forked from a pre-imported one)
                 sdk      (the Flyte SDK an entity belongs to: flytekit and flyte v2)
    base         errors, redaction, progress, _html, _os, _private, _sqlite, _lazy, _version

A module may import its own package, and packages of lower layers. Imports inside
``if TYPE_CHECKING:`` do not count (they never run). Peers of the ``core`` row never import
each other; within ``application`` and ``adapters`` packages may import each other, but no
two modules anywhere may import each other, directly or through others (no cycles).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "flyte_jupyter"
ROOT = "<root>"
# (rank, may packages of this rank import each other?)
LAYERS: dict[str, tuple[int, bool]] = {
    **dict.fromkeys(
        (
            "errors",
            "redaction",
            "progress",
            "_html",
            "_os",
            "_private",
            "_sqlite",
            "_lazy",
            "_version",
        ),
        (0, True),
    ),
    # the SDK seam sits under every other core package: recognising an entity, checking its
    # inputs and reading its outputs is SDK work that capture, bundle and up may all need
    "sdk": (1, False),
    # the warm worker runs jobs of the layers above it (named, never imported) and asks the
    # SDK seam what a forked child must rebuild
    "worker": (2, False),
    "capture": (3, False),
    "bundle": (4, False),
    **dict.fromkeys(("settings", "store", "serialize", "runtime"), (5, False)),
    "launch": (6, False),
    **dict.fromkeys(("session", "submit", "deploy", "prepare", "_kernel"), (7, True)),
    **dict.fromkeys(
        (
            "magics",
            "_launching",
            "_deploying",
            "_usage",
            "_traits",
            "display",
            "widgets",
            "server",
            ROOT,
        ),
        (8, True),
    ),
}


def _module_name(path: Path) -> str:
    parts = ["flyte_jupyter", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for path in PACKAGE.rglob("*.py")
        if "labextension" not in path.relative_to(PACKAGE).parts
    }


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """Modules of the package that ``module`` imports when it runs (lazy imports included)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*anchor, *([child.module] if child.module else [])])
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    found.add(sub if sub in known else base)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {name for name in found if name in known and name != module}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {module: _imports(path, module, known) for module, path in modules.items()}


def test_every_package_has_a_layer():
    assert {_package(m) for m in _modules()} <= set(LAYERS)


def test_no_module_imports_a_higher_layer_or_a_core_peer():
    wrong = []
    for module, targets in _graph().items():
        here, peers_ok = LAYERS[_package(module)]
        for target in targets:
            if _package(target) == _package(module):
                continue
            there, _ = LAYERS[_package(target)]
            if there > here or (there == here and not peers_ok):
                wrong.append(f"{module} -> {target}")
    assert wrong == [], "imports that break the layers:\n" + "\n".join(sorted(wrong))


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                on_stack.discard(member)
                component.append(member)
            on_stack.discard(node)
            if component:
                cycles.append(sorted([node, *component]))

    for node in edges:
        if node not in index:
            connect(node)
    return cycles


def test_no_import_cycles():
    # a package's module importing its own package (to reach a re-export) is not a cycle
    edges = {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in _graph().items()}
    assert _cycles(edges) == [], "modules that import each other"


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_contract_sees_lazy_imports():
    """A function-level import counts: the contract is about what runs, not what is on top."""
    graph = _graph()
    assert "flyte_jupyter.widgets" in graph["flyte_jupyter.magics"]  # %flyte_panel, lazily
    by_package: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        by_package[_package(module)].update(_package(t) for t in targets)
    assert "launch" in by_package["submit"]
