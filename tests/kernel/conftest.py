"""Fixtures for tests that drive real IPython kernels (nbclient and jupyter_client).

Every kernel gets its own ``FLYTE_JUPYTER_HOME`` (a tmp dir), ``PYTHONPATH`` pointing at this
checkout (the package may not be installed) and ``JPY_SESSION_NAME`` set to the notebook's
path, as jupyter_server does, so the generated module is named after the notebook.
"""

from __future__ import annotations

import ast
import json
import os
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

REPO_ROOT = Path(__file__).resolve().parents[2]
KERNEL_TIMEOUT = 120
PROBE_MARK = "FJ_PROBE "

# Everything a test wants to know about a Bundle, as one JSON-able expression over `var`.
_SUMMARY = (
    '{{"digest": {v}.digest, "filename": {v}.filename, "path": str({v}.path), '
    '"files": {v}.files, "module": {v}.module, "source": {v}.source, '
    '"dropped": [[d.cell, d.line, d.code, d.reason] for d in {v}.dropped], '
    '"excluded": [[e.path, e.reason] for e in {v}.excluded]}}'
)


def summary_expr(var: str) -> str:
    """A Python expression that evaluates to the JSON summary of Bundle ``var``."""
    return "__import__('json').dumps(" + _SUMMARY.format(v=var) + ")"


def probe_code(var: str) -> str:
    """Cell source that prints the summary of Bundle ``var`` on one marked line."""
    return f"print({PROBE_MARK!r} + {summary_expr(var)})"


@dataclass(frozen=True)
class BundleInfo:
    """What a kernel's Bundle looked like (decoded from the probe output)."""

    digest: str
    filename: str
    path: str
    files: list[str]
    module: str
    source: str
    dropped: list[list[Any]]
    excluded: list[list[str]]

    @classmethod
    def from_json(cls, text: str) -> BundleInfo:
        return cls(**json.loads(text))

    @property
    def archive(self) -> bytes:
        return Path(self.path).read_bytes()

    def dropped_reasons(self) -> dict[str, str]:
        """``{code as typed: reason}`` of the dropped statements."""
        return {code: reason for _, _, code, reason in self.dropped}

    def excluded_paths(self) -> dict[str, str]:
        return dict(self.excluded)


# -- notebooks and project folders ------------------------------------------------------------


def make_notebook(cells: list[str | tuple[str, str]]) -> nbformat.NotebookNode:
    """A v4 notebook of code cells; a cell is ``source`` or ``(cell_id, source)``.

    Cell ids are fixed (``c0``, ``c1``, ...) so the file on disk is byte-stable.
    """
    nb = new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    for index, cell in enumerate(cells):
        cell_id, source = cell if isinstance(cell, tuple) else (f"c{index}", cell)
        nb.cells.append(new_code_cell(source, id=cell_id))
    return nb


def write_tree(folder: Path, files: dict[str, str | bytes]) -> Path:
    """Create ``files`` (relative path -> content) under ``folder``; return ``folder``."""
    for rel, content in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


def kernel_env(home: Path, notebook: Path | None) -> dict[str, str]:
    """Environment for a kernel: this checkout importable, a private home, the session name.

    flyte v2's telemetry is off (``DO_NOT_TRACK=1``), as in everything the extension starts.

    Settings that the developer's environment could inject (``FLYTE_JUPYTER_*`` variables, a
    flytekit config file, a ``[tool.flyte_jupyter]`` table above the notebook) are kept out.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLYTE_JUPYTER_")
        and k not in ("JPY_SESSION_NAME", "FLYTECTL_CONFIG", "_FLYTECTL_CONFIG_PYFLYTE_OVERRIDE")
    }
    paths = [str(REPO_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["FLYTE_JUPYTER_HOME"] = str(home)
    env["DO_NOT_TRACK"] = "1"  # flyte v2's telemetry: no kernel of the suite reports anything
    if notebook is not None:
        env["JPY_SESSION_NAME"] = str(notebook)
        env["FLYTE_JUPYTER_CONFIG_CEILING"] = str(notebook.parent)
    return env


# -- nbclient -----------------------------------------------------------------------------------


def probe_results(nb: nbformat.NotebookNode) -> list[BundleInfo]:
    """The bundle summaries printed by probe cells of an executed notebook, in order."""
    out = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stdout":
                out.extend(
                    BundleInfo.from_json(line.removeprefix(PROBE_MARK))
                    for line in output["text"].splitlines()
                    if line.startswith(PROBE_MARK)
                )
    return out


def cell_text(cell: nbformat.NotebookNode) -> str:
    """All text a cell showed: streams, error tracebacks, plain-text results."""
    parts = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            parts.append(output["text"])
        elif kind == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
            parts.extend(output.get("traceback", []))
        elif kind in ("execute_result", "display_data"):
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


class LiveNotebook:
    """A notebook executed by nbclient in a kernel that stays up for more cells."""

    def __init__(self, client: Any) -> None:
        self.client = client

    @property
    def nb(self) -> nbformat.NotebookNode:
        return self.client.nb

    def run_cell(self, source: str) -> nbformat.NotebookNode:
        """Append a cell to the notebook, execute it (no cell id sent, as nbclient does)."""
        cell = new_code_cell(source, id=f"extra{len(self.nb.cells)}")
        self.nb.cells.append(cell)
        self.client.execute_cell(cell, len(self.nb.cells) - 1)
        return cell

    def bundle(self, args: str) -> BundleInfo:
        """Run ``b = %flyte_bundle args`` and the probe in new cells; return the summary."""
        self.run_cell(f"b = %flyte_bundle {args}")
        probe = self.run_cell(probe_code("b"))
        results = probe_results(new_notebook(cells=[probe]))
        assert results, cell_text(probe)
        return results[-1]


@pytest.fixture(scope="session")
def kit():
    """The helpers above, for test modules (which cannot import a conftest reliably)."""
    return SimpleNamespace(
        make_notebook=make_notebook,
        write_tree=write_tree,
        probe_code=probe_code,
        probe_results=probe_results,
        cell_text=cell_text,
        kernel_env=kernel_env,
        repo_root=REPO_ROOT,
    )


@pytest.fixture(scope="module")
def notebook_runner(tmp_path_factory):
    """``run(nb, path, home, keep=False)``: execute a notebook saved at ``path`` with nbclient.

    The notebook is written to ``path`` first (so the folder looks like a real project) and
    executed with the folder as the kernel's working directory. With ``keep=True`` the kernel
    stays up until the end of the module and a :class:`LiveNotebook` is returned.
    """
    from nbclient import NotebookClient

    with ExitStack() as stack:

        def run(nb, path: Path, home: Path | None = None, *, keep: bool = False):
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, path)
            home = home or tmp_path_factory.mktemp("fj-home")
            client = NotebookClient(
                nbformat.read(path, as_version=4),
                timeout=KERNEL_TIMEOUT,
                kernel_name="python3",
                resources={"metadata": {"path": str(path.parent)}},
            )
            env = kernel_env(home, path)
            if not keep:
                return client.execute(env=env)
            stack.enter_context(client.setup_kernel(env=env))
            for index, cell in enumerate(client.nb.cells):
                client.execute_cell(cell, index)
            return LiveNotebook(client)

        yield run


# -- jupyter_client, with JupyterLab's cellId metadata -------------------------------------------


@dataclass
class CellResult:
    """Reply and outputs of one execute request."""

    status: str
    outputs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    reply: dict[str, Any] = field(default_factory=dict)

    @property
    def stdout(self) -> str:
        return "".join(
            c["text"] for t, c in self.outputs if t == "stream" and c["name"] == "stdout"
        )

    @property
    def text(self) -> str:
        """Everything shown: streams, error name/value/traceback, plain-text results."""
        parts = []
        for kind, content in self.outputs:
            if kind == "stream":
                parts.append(content["text"])
            elif kind == "error":
                parts.append(f"{content['ename']}: {content['evalue']}")
                parts.extend(content.get("traceback", []))
            else:
                parts.append(content.get("data", {}).get("text/plain", ""))
        return "\n".join(parts)


class LabKernel:
    """A kernel driven like JupyterLab drives it: each execute request carries ``cellId``."""

    def __init__(self, km: Any, kc: Any, cwd: Path, notebook: Path, home: Path) -> None:
        self.km = km
        self.kc = kc
        self.cwd = cwd
        self.notebook = notebook
        self.home = home

    def run(
        self, code: str, cell_id: str | None = None, *, silent: bool = False, **extra: Any
    ) -> CellResult:
        """Execute ``code`` as notebook cell ``cell_id``; wait for the reply and outputs."""
        # The content dict jupyter_client's KernelClient.execute builds, plus the metadata
        # JupyterLab adds (ipykernel passes metadata["cellId"] to run_cell as cell_id).
        content = {
            "code": code,
            "silent": silent,
            "store_history": not silent,
            "user_expressions": extra.get("user_expressions", {}),
            "allow_stdin": False,
            "stop_on_error": False,
        }
        metadata = {"cellId": cell_id} if cell_id is not None else {}
        msg = self.kc.session.msg("execute_request", content, metadata=metadata)
        self.kc.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
        result = CellResult(status="?")
        while True:
            io = self.kc.get_iopub_msg(timeout=KERNEL_TIMEOUT)
            if io["parent_header"].get("msg_id") != msg_id:
                continue
            kind = io["msg_type"]
            if kind == "status" and io["content"]["execution_state"] == "idle":
                break
            if kind in ("stream", "error", "execute_result", "display_data"):
                result.outputs.append((kind, io["content"]))
        while True:
            reply = self.kc.get_shell_msg(timeout=KERNEL_TIMEOUT)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        result.status = reply["content"]["status"]
        result.reply = reply["content"]
        return result

    def ok(self, code: str, cell_id: str | None = None) -> CellResult:
        """Run a cell that must succeed."""
        result = self.run(code, cell_id)
        assert result.status == "ok", result.text
        return result

    def evaluate(self, expression: str) -> str:
        """Evaluate an expression silently (never recorded as a cell); return its str value."""
        result = self.run("", silent=True, user_expressions={"r": expression})
        value = result.reply["user_expressions"]["r"]
        assert value["status"] == "ok", value
        return ast.literal_eval(value["data"]["text/plain"])

    def bundle(self, args: str, cell_id: str) -> BundleInfo:
        """Run ``b = %flyte_bundle args`` as cell ``cell_id``; return the bundle's summary."""
        result = self.run(f"b = %flyte_bundle {args}", cell_id)
        assert result.status == "ok", result.text
        return BundleInfo.from_json(self.evaluate(summary_expr("b")))


@pytest.fixture(scope="module")
def lab_kernel_factory(tmp_path_factory):
    """``start(folder, notebook_name)``: a :class:`LabKernel` with ``folder`` as cwd.

    The extension is loaded (``%load_ext flyte_jupyter``, as cell ``load``). Kernels are shut
    down at the end of the module.
    """
    from jupyter_client.manager import start_new_kernel

    started: list[LabKernel] = []

    def start(folder: Path, notebook_name: str = "lab.ipynb") -> LabKernel:
        home = tmp_path_factory.mktemp("fj-home")
        notebook = folder / notebook_name
        km, kc = start_new_kernel(
            startup_timeout=KERNEL_TIMEOUT,
            kernel_name="python3",
            cwd=str(folder),
            env=kernel_env(home, notebook),
        )
        kernel = LabKernel(km, kc, folder, notebook, home)
        started.append(kernel)
        kernel.ok("%load_ext flyte_jupyter", "load")
        return kernel

    yield start
    for kernel in started:
        kernel.kc.stop_channels()
        kernel.km.shutdown_kernel(now=True)
