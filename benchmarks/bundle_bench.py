"""Bundling benchmark: this project's ``copy_style="all"`` bundle against its anchors.

For every corpus (see :mod:`benchmarks.corpora`) and in the same run, each method runs
``--repeat`` times in a fresh subprocess (:mod:`benchmarks._measure`), interleaved round-robin
so that load from other processes spreads evenly over the methods:

- walk+stat floor: ``os.walk`` + ``os.stat``, and recursive ``os.scandir`` (the faster one is
  the floor);
- ``tar --sort=name ... | gzip -n`` and ``| pigz -n`` (when pigz is installed);
- flytekit ``fast_package`` with ``copy_style=ALL``, once with pigz on PATH and once with a PATH
  that hides it (flytekit picks pigz when it finds it);
- ``flyte_jupyter.bundle.make_bundle``: "full" (a fresh empty cache_dir every time) and
  "re-check" (a cache_dir primed by one earlier call; the archive must not be rewritten).
  Skipped with a note while ``make_bundle`` is not importable;
- the first ``%flyte_bundle --copy-style all`` in a kernel with a fresh home (issue 16): the
  archive plus the self-check (extract, import the generated module in a clean interpreter),
  beside ``python -I -c "import flytekit"``, the floor of a self-check that starts cold.

pigz is installed by this set-up when it is missing (``apt-get install -y -qq pigz``, as root;
the product never uses it); when that is not possible the ``tar | pigz`` rows are skipped and
the targets fall back to ``tar | gzip -n``, saying so.

Subprocesses get ``GIT_CEILING_DIRECTORIES`` set to the corpora folder: the corpora sit inside
this repository in a gitignored folder, and flytekit's ``GitIgnore`` (``git ls-files -io``)
would otherwise report every corpus file as ignored and package nothing.

Run from the repository root::

    python -m benchmarks.bundle_bench                 # A,B,C,D,E, median of 5
    python -m benchmarks.bundle_bench --quick         # A,E, median of 3
    python -m benchmarks.bundle_bench --corpora E --repeat 7   # the issue-16 row only
    python -m benchmarks.bundle_bench --corpora C --repeat 7 --json bench.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from benchmarks import _report
from benchmarks.corpora import CORPORA_DIR, SPECS, ensure_corpus, tree_size

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRATCH_DIR = CORPORA_DIR / "_scratch"
RUN_TIMEOUT_S = 1800
QUICK_CORPORA = ("A", "E")
QUICK_REPEAT = 3
READ_CHUNK = 1024 * 1024

MethodKind = Literal["floor", "shell", "python", "ours"]
CachePolicy = Literal["none", "fresh", "primed"]


@dataclass(frozen=True)
class Method:
    """One row of the table: which worker runs, and how its environment is set up."""

    key: str
    label: str
    worker: str
    kind: MethodKind
    needs_pigz: bool = False
    hide_pigz: bool = False
    cache: CachePolicy = "none"


METHODS: tuple[Method, ...] = (
    Method("walk-stat", "walk+stat (os.walk + os.stat)", "walk-stat", "floor"),
    Method("scandir-stat", "walk+stat (recursive os.scandir)", "scandir-stat", "floor"),
    Method("tar-gzip", "tar --sort=name | gzip -n", "tar-gzip", "shell"),
    Method("tar-pigz", "tar --sort=name | pigz -n", "tar-pigz", "shell", needs_pigz=True),
    Method("flytekit-pigz", "flytekit fast_package (pigz)", "flytekit", "python", needs_pigz=True),
    Method(
        "flytekit-gzip", "flytekit fast_package (no pigz)", "flytekit", "python", hide_pigz=True
    ),
    Method("bundle-full", "flyte_jupyter bundle: full", "bundle", "ours", cache="fresh"),
    Method("bundle-recheck", "flyte_jupyter bundle: re-check", "bundle", "ours", cache="primed"),
    Method("magic-first", "first %flyte_bundle, fresh home", "magic", "ours"),
    Method("import-flytekit", "python -I -c 'import flytekit'", "import-flytekit", "python"),
)


@dataclass(frozen=True)
class Environment:
    """What the machine offers, probed once per run."""

    pigz: str | None
    ours_available: bool
    ours_note: str
    env: dict[str, str] = field(repr=False)
    env_without_pigz: dict[str, str] = field(repr=False)


@dataclass(frozen=True)
class Options:
    """Parsed command line."""

    corpora: tuple[str, ...]
    repeat: int
    json_path: Path | None
    keep: bool


def emit(text: str = "") -> None:
    """Write one line to stdout (the benchmark's only output channel)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def path_without(tool: str, farm: Path) -> str:
    """Return ``$PATH`` with ``tool`` hidden.

    Each PATH folder that holds ``tool`` is replaced by a folder of symlinks to everything
    else in it, so every other command still resolves exactly as before.
    """
    parts = []
    for index, folder in enumerate(os.environ.get("PATH", "").split(os.pathsep)):
        source = Path(folder)
        if not (source / tool).exists():
            parts.append(folder)
            continue
        mirror = farm / f"path{index}"
        mirror.mkdir(parents=True, exist_ok=True)
        for entry in source.iterdir():
            link = mirror / entry.name
            if entry.name != tool and not link.is_symlink():
                link.symlink_to(entry)
        parts.append(str(mirror))
    return os.pathsep.join(parts)


def ensure_pigz() -> str | None:
    """pigz's path; install it (this benchmark's set-up only) when it is missing and we can."""
    found = shutil.which("pigz")
    if found is not None:
        return found
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        emit("SKIP tar|pigz anchor: pigz is missing and apt-get cannot install it (not root)")
        return None
    emit("set-up: pigz is missing; installing it for the anchor: apt-get install -y -qq pigz")
    install = [apt, "install", "-y", "-qq", "pigz"]
    if subprocess.run(install, capture_output=True, check=False).returncode != 0:
        subprocess.run([apt, "update", "-qq"], capture_output=True, check=False)
        subprocess.run(install, capture_output=True, check=False)
    found = shutil.which("pigz")
    emit(f"set-up: {'pigz installed at ' + found if found else 'SKIP tar|pigz: install failed'}")
    return found


def probe_environment(scratch: Path) -> Environment:
    """Find pigz, build the subprocess environments and check whether our bundle is importable."""
    pigz = ensure_pigz()  # before PATH is mirrored without it
    env = dict(os.environ)
    env["GIT_CEILING_DIRECTORIES"] = str(CORPORA_DIR)
    env["TMPDIR"] = str(scratch / "tmp")  # flytekit's tmp.tar lands on the corpus's filesystem
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    (scratch / "tmp").mkdir(parents=True, exist_ok=True)
    hidden = dict(env, PATH=path_without("pigz", scratch / "no-pigz-path"))
    probe = subprocess.run(
        [sys.executable, "-c", "from flyte_jupyter.bundle import BundleRequest, make_bundle"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = probe.stderr.strip().splitlines()
    note = lines[-1] if probe.returncode and lines else ""
    return Environment(
        pigz=pigz,
        ours_available=probe.returncode == 0,
        ours_note=note,
        env=env,
        env_without_pigz=hidden,
    )


def available_methods(environment: Environment) -> list[Method]:
    """The methods this machine can run, with a note for each one left out."""
    methods = []
    for method in METHODS:
        if method.needs_pigz and environment.pigz is None:
            emit(f"note: skipping {method.label}: pigz is not on PATH")
        elif method.kind == "ours" and not environment.ours_available:
            emit(f"note: skipping {method.label}: make_bundle is not importable yet")
        else:
            methods.append(method)
    if not environment.ours_available:
        emit(f"      ({environment.ours_note})")
    return methods


def warm_page_cache(root: Path) -> None:
    """Read every file once so that no method pays for the first cold read."""
    for dirpath, _dirnames, filenames in os.walk(root):
        for filename in filenames:
            with Path(dirpath, filename).open("rb") as stream:
                while stream.read(READ_CHUNK):
                    pass


def run_worker(
    method: Method,
    corpus: Path,
    work: Path,
    cache: Path | None,
    env: dict[str, str],
    *,
    count: bool,
) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter; return its result or ``{"error": ...}``."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    result_file = work / "result.json"
    command = [sys.executable, "-m", "benchmarks._measure", method.worker]
    command += ["--corpus", str(corpus), "--out", str(work), "--result", str(result_file)]
    if cache is not None:
        command += ["--cache", str(cache)]
    if count:
        command.append("--count")
    try:
        completed = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,  # flytekit prints with click/rich
            stderr=subprocess.PIPE,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {RUN_TIMEOUT_S} s"}
    if completed.returncode != 0:
        tail = " | ".join(completed.stderr.strip().splitlines()[-3:])
        return {"error": f"exit {completed.returncode}: {tail}"}
    result: dict[str, Any] = json.loads(result_file.read_text())
    return result


def measure_corpus(
    name: str, methods: list[Method], environment: Environment, options: Options
) -> dict[str, Any]:
    """Measure every method on one corpus; return the corpus section of the results."""
    corpus = ensure_corpus(name)
    files, size = tree_size(corpus)
    emit(f"corpus {name}: {files:,} files, {size / 2**20:.1f} MiB; warming the page cache")
    warm_page_cache(corpus)
    scratch = SCRATCH_DIR / name
    primed = scratch / "primed-cache"
    shutil.rmtree(primed, ignore_errors=True)
    primed.mkdir(parents=True)
    runs: dict[str, list[dict[str, Any]]] = {m.key: [] for m in methods}
    if any(m.cache == "primed" for m in methods):
        prime = next(m for m in methods if m.cache == "primed")
        first = run_worker(prime, corpus, scratch / "prime", primed, environment.env, count=False)
        if "error" in first:
            emit(f"  priming the re-check cache failed: {first['error']}")
    for repetition in range(options.repeat):
        for method in methods:
            env = environment.env_without_pigz if method.hide_pigz else environment.env
            work = scratch / method.key
            cache = {"none": None, "fresh": work / "cache", "primed": primed}[method.cache]
            result = run_worker(method, corpus, work, cache, env, count=repetition == 0)
            runs[method.key].append(result)
        emit(f"  round {repetition + 1}/{options.repeat} done")
    return {
        "path": str(corpus),
        "description": SPECS[name].description,
        "files": files,
        "bytes": size,
        "methods": {
            m.key: _report.summarize(m.label, m.kind, runs[m.key], expect_reuse=m.cache == "primed")
            for m in methods
        },
    }


def machine_info(environment: Environment) -> dict[str, Any]:
    """Context for reading the figures: cores, versions, load."""
    tar = subprocess.run(
        [shutil.which("tar") or "tar", "--version"], capture_output=True, text=True, check=False
    )
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "flytekit": _flytekit_version(),
        "tar": tar.stdout.splitlines()[0] if tar.stdout else None,
        "pigz": environment.pigz,
        "loadavg_start": os.getloadavg(),
        "ours_available": environment.ours_available,
        "ours_note": environment.ours_note,
    }


def _flytekit_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("flytekit")
    except PackageNotFoundError:
        return "not installed"


def parse_options(argv: list[str] | None = None) -> Options:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bundle_bench",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--corpora", "--corpus", default="A,B,C,D,E", help="comma-separated: A,B,C,D,E"
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per method (median of N)")
    parser.add_argument("--quick", action="store_true", help="corpora A,B with 3 runs each")
    parser.add_argument("--json", type=Path, dest="json_path", help="write results here")
    parser.add_argument("--keep", action="store_true", help="keep archives in .corpora/_scratch")
    args = parser.parse_args(argv)
    corpora = tuple(c.strip().upper() for c in args.corpora.split(",") if c.strip())
    unknown = sorted(set(corpora) - set(SPECS))
    if unknown:
        parser.error(f"unknown corpora {unknown}; choose from {sorted(SPECS)}")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.quick:
        corpora = tuple(c for c in corpora if c in QUICK_CORPORA) or QUICK_CORPORA
        return Options(corpora, QUICK_REPEAT, args.json_path, args.keep)
    return Options(corpora, args.repeat, args.json_path, args.keep)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; return 1 if any target fails, else 0."""
    options = parse_options(argv)
    SCRATCH_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=SCRATCH_DIR) as scratch:
        environment = probe_environment(Path(scratch))
        methods = available_methods(environment)
        results: dict[str, Any] = {"machine": machine_info(environment), "corpora": {}}
        for name in options.corpora:
            results["corpora"][name] = measure_corpus(name, methods, environment, options)
    results["machine"]["loadavg_end"] = os.getloadavg()
    results["targets"] = _report.check_targets(results["corpora"])
    for line in _report.render(results):
        emit(line)
    if options.json_path is not None:
        options.json_path.write_text(json.dumps(results, indent=2) + "\n")
        emit(f"results written to {options.json_path}")
    if not options.keep:
        for name in options.corpora:
            shutil.rmtree(SCRATCH_DIR / name, ignore_errors=True)
    return 1 if any(t["status"] == "FAIL" for t in results["targets"]) else 0


if __name__ == "__main__":
    sys.exit(main())
