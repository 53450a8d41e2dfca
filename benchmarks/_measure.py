"""Worker: run one bundling method once, in its own process, and write a JSON result.

Each measurement runs in a fresh interpreter so peak RSS is that method's alone. Imports happen
before the clock starts (a notebook kernel has them loaded already); the clock covers only the
work. The parent discards this process's stdout, so flytekit's ``click``/``rich`` output is
silenced; errors go to stderr.

Usage::

    python -m benchmarks._measure METHOD --corpus DIR --out DIR --result FILE [--cache DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TypeAlias

WORKER_METHODS = (
    "walk-stat",
    "scandir-stat",
    "tar-gzip",
    "tar-pigz",
    "flytekit",
    "bundle",
    "magic",
    "import-flytekit",
)
TAR_FLAGS = "--sort=name --owner=0 --group=0 --numeric-owner --mtime=@0"
GNU_TIME = "/usr/bin/time"
CHUNK = 1024 * 1024
TASK_CELL = "from flytekit import task\n\n@task\ndef inc(x: int) -> int:\n    return x + 1\n"


@dataclass(frozen=True)
class Outcome:
    """What a method produced, besides its time."""

    files: int | None = None
    archive: Path | None = None
    digest: str | None = None
    archive_rewritten: bool | None = None
    archive_sha256: str | None = None
    tool_rss_kb: int | None = None
    phases: dict[str, float] | None = None


@dataclass(frozen=True)
class Result:
    """One measurement, as written to the result file (RSS in KiB, as Linux reports it)."""

    method: str
    seconds: float
    base_rss_kb: int
    self_rss_kb: int
    children_rss_kb: int
    files: int | None
    archive_bytes: int | None
    digest: str | None
    archive_rewritten: bool | None
    archive_sha256: str | None
    tool_rss_kb: int | None
    pigz_visible: bool
    phases: dict[str, float] | None


def walk_stat(root: Path) -> int:
    """``os.walk`` and ``os.stat`` every file; return how many."""
    count = 0
    for dirpath, _dirnames, filenames in os.walk(root):
        for filename in filenames:
            # os.stat on a joined str: pathlib objects would add overhead to the floor itself
            os.stat(os.path.join(dirpath, filename))
            count += 1
    return count


def scandir_stat(root: Path) -> int:
    """Recursive ``os.scandir`` with ``DirEntry.stat`` on every file; return how many."""
    count = 0
    stack = [str(root)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                else:
                    entry.stat(follow_symlinks=False)
                    count += 1
    return count


def tar_pipeline(root: Path, out: Path, compressor: str) -> Outcome:
    """``tar ... | <compressor> -n > out`` through ``bash -o pipefail``.

    Run under GNU ``time`` when present: its ``%M`` is the pipeline's own peak RSS, whereas
    ``RUSAGE_CHILDREN`` here would also count bash's copy of this interpreter at fork time.
    """
    tar, tool, bash = _which("tar"), _which(compressor), _which("bash")
    archive = out / "tar.tar.gz"
    rss_file = out / "time-rss.txt"
    command = (
        f"{shlex.quote(tar)} {TAR_FLAGS} -cf - -C {shlex.quote(str(root))} . "
        f"| {shlex.quote(tool)} -n > {shlex.quote(str(archive))}"
    )
    prefix = [GNU_TIME, "-f", "%M", "-o", str(rss_file)] if Path(GNU_TIME).is_file() else []
    subprocess.run([*prefix, bash, "-o", "pipefail", "-c", command], check=True)
    tool_rss = int(rss_file.read_text().split()[-1]) if prefix else None
    return Outcome(archive=archive, tool_rss_kb=tool_rss)


def _which(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        raise FileNotFoundError(f"{tool} is not on PATH")
    return found


def _archive_members(archive: Path) -> int:
    with tarfile.open(archive, "r|gz") as tar:
        return sum(1 for member in tar if member.isfile())


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _archive_snapshot(cache: Path) -> dict[str, tuple[int, int, int]]:
    """``{archive: (inode, mtime_ns, size)}`` of every ``*.tar.gz`` under ``cache``."""
    snapshot = {}
    for path in cache.rglob("*.tar.gz"):
        st = path.stat()
        snapshot[str(path)] = (st.st_ino, st.st_mtime_ns, st.st_size)
    return snapshot


Finish: TypeAlias = Callable[[], Outcome]
"""Called after the clock stops: turns what the timed work returned into an :class:`Outcome`."""


def _done(outcome: Outcome) -> Finish:
    return lambda: outcome


def _prepare(args: argparse.Namespace) -> Callable[[], Finish]:
    """Import what the method needs and return the timed action."""
    root: Path = args.corpus
    plain: dict[str, Callable[[], Finish]] = {
        "walk-stat": lambda: _done(Outcome(files=walk_stat(root))),
        "scandir-stat": lambda: _done(Outcome(files=scandir_stat(root))),
        "import-flytekit": _import_flytekit,
    }
    if args.method in plain:
        return plain[args.method]
    if args.method in {"tar-gzip", "tar-pigz"}:
        compressor = args.method.removeprefix("tar-")
        return lambda: _done(tar_pipeline(root, args.out, compressor))
    if args.method == "flytekit":
        return _prepare_flytekit(root, args.out)
    if args.method == "magic":
        return _prepare_magic(root, args.out)
    return _prepare_bundle(root, args.cache)


def _import_flytekit() -> Finish:
    """A clean interpreter importing flytekit: what a cold self-check pays before the module."""
    subprocess.run([sys.executable, "-I", "-c", "import flytekit"], check=True)
    return _done(Outcome())


def _prepare_magic(root: Path, out: Path) -> Callable[[], Finish]:
    """The first ``%flyte_bundle --copy-style all`` of ``root`` in a kernel with a fresh home.

    The shell, the extension and a cell defining a task are set up before the clock starts,
    as in a notebook; the magic then pays for everything a first bundle does: the imports it
    defers, the walk, the archive, and the self-check (extract + import in a clean interpreter).
    ``out`` is empty on every run, so the home (caches, archives, check markers) is fresh.
    """
    os.chdir(out)  # no pyproject.toml of this repository on the way up
    os.environ["FLYTE_JUPYTER_HOME"] = str(out / "home")
    os.environ["FLYTE_JUPYTER_CONFIG_CEILING"] = str(out)
    from IPython.testing.globalipapp import start_ipython

    shell = start_ipython()
    shell.run_line_magic("load_ext", "flyte_jupyter")
    cell = shell.run_cell(TASK_CELL)
    if not cell.success:
        raise RuntimeError(f"the task cell failed: {cell.error_in_exec!r}")
    line = f"--copy-style all --root-dir {shlex.quote(str(root))}"
    phases = _time_phases()

    def action() -> Finish:
        bundle = shell.run_line_magic("flyte_bundle", line)
        outcome = Outcome(files=len(bundle.entries), archive=Path(bundle.path), phases=phases)
        return _done(outcome)

    return action


def _time_phases() -> dict[str, float]:
    """Time the magic's two steps (archive, self-check) by wrapping prepare's names for them."""
    from flyte_jupyter import prepare

    phases: dict[str, float] = {}
    for name, phase in (("make_bundle", "archive"), ("self_check", "self-check")):
        real = getattr(prepare, name)

        def timed(*args: object, _real: Any = real, _phase: str = phase, **kwargs: object) -> Any:
            started = time.perf_counter()
            try:
                return _real(*args, **kwargs)
            finally:
                phases[_phase] = phases.get(_phase, 0.0) + time.perf_counter() - started

        setattr(prepare, name, timed)
    return phases


def _prepare_flytekit(root: Path, out: Path) -> Callable[[], Finish]:
    from flytekit.constants import CopyFileDetection
    from flytekit.tools.fast_registration import FastPackageOptions, fast_package

    options = FastPackageOptions(ignores=[], copy_style=CopyFileDetection.ALL)

    def action() -> Finish:
        archive = fast_package(source=root, output_dir=out, deref_symlinks=False, options=options)
        return _done(Outcome(archive=Path(archive)))

    return action


def _prepare_bundle(root: Path, cache: Path) -> Callable[[], Finish]:
    from flyte_jupyter.bundle import BundleRequest, make_bundle

    request = BundleRequest(root_dir=root, copy_style="all")
    before = _archive_snapshot(cache)

    def action() -> Finish:
        bundle = make_bundle(request, cache_dir=cache)

        def finish() -> Outcome:
            # A re-check must hand back the archive that was already there, untouched.
            after = _archive_snapshot(cache)
            rewritten = before != after or str(bundle.path) not in before
            return Outcome(
                files=len(bundle.entries),
                archive=Path(bundle.path),
                digest=bundle.digest,
                archive_rewritten=rewritten,
                archive_sha256=_file_sha256(Path(bundle.path)),
            )

        return finish

    return action


def measure(args: argparse.Namespace) -> Result:
    """Run ``args.method`` once and return its measurement."""
    action = _prepare(args)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    finish = action()
    seconds = time.perf_counter() - start
    outcome = finish()
    files = outcome.files
    if files is None and outcome.archive is not None and args.count:
        files = _archive_members(outcome.archive)
    return Result(
        method=args.method,
        seconds=seconds,
        base_rss_kb=base,
        self_rss_kb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        children_rss_kb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
        files=files,
        archive_bytes=outcome.archive.stat().st_size if outcome.archive else None,
        digest=outcome.digest,
        archive_rewritten=outcome.archive_rewritten,
        archive_sha256=outcome.archive_sha256,
        tool_rss_kb=outcome.tool_rss_kb,
        pigz_visible=shutil.which("pigz") is not None,
        phases=outcome.phases,
    )


def _parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", choices=WORKER_METHODS)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for archives")
    parser.add_argument("--result", type=Path, required=True, help="JSON result file")
    parser.add_argument("--cache", type=Path, help="cache_dir for the bundle method")
    parser.add_argument("--count", action="store_true", help="count files in the archive")
    args = parser.parse_args(argv)
    # absolute: fast_package joins source with paths that already start with source
    args.corpus = args.corpus.resolve()
    args.out = args.out.resolve()
    if args.method == "bundle" and args.cache is None:
        parser.error("the bundle method needs --cache")
    return args


def main(argv: list[str] | None = None) -> None:
    """Entry point: measure once and write the result file."""
    args = _parse(argv)
    result = measure(args)
    payload = asdict(result)
    args.result.write_text(json.dumps(payload) + "\n")


if __name__ == "__main__":
    main()
