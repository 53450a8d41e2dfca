"""The notebook inner loop: edit a task, run it, see the URL and the result (issue 16).

Run: ``python -m benchmarks.launch_bench [--repeat 5] [--skip-bundle]``. Everything is
measured in this run, in one IPython shell with the extension loaded (a notebook kernel), on
the embedded local backend, median of N, for a flytekit task, a flytekit workflow and a flyte
v2 task (when flyte is installed):

* ``%flyte_run`` with the bundle reused -> the Run and its URL (goal <= 50 ms);
* edit the task's cell (its body changes, so does the bundle), ``%flyte_run`` -> URL
  (goal <= 300 ms);
* edit, ``%flyte_run --wait`` -> the result (goal <= 1.0 s);

beside their floors, measured alike: ``import flytekit`` / ``import flyte`` in a fresh
interpreter; the bare entrypoint (the pod's command of a finished run: ``pyflyte-fast-execute
... -- pyflyte-execute ...`` or ``a0``) re-run by hand on the same bundle and inputs; and the
task called in the kernel. The edit rows run warm (the default ``local_runs``); the same rows
with ``local_runs = "exact"`` (the pod's two processes per run) are printed for comparison.

The fourth row of the issue, the first ``%flyte_bundle --copy-style all`` of a ~14 MB tree
beside ``tar | pigz -n``, is measured by :mod:`benchmarks.bundle_bench` (corpus E), run here
in a child process unless ``--skip-bundle``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

GOALS = {"reuse": 0.050, "url": 0.300, "result": 1.0}


@dataclass
class Case:
    """One kind of entity: its cell (``{n}`` changes with each edit) and its call."""

    label: str
    sdk: str
    cell: str
    call: str
    expected: Any
    local: str  # the call in the kernel, for the floor row
    rows: dict[str, list[float]] = field(default_factory=dict)


CASES = [
    Case(
        "flytekit task",
        "flytekit",
        "from flytekit import task\n\n@task\ndef inc(x: int) -> int:\n    return x + 1 + 0 * {n}\n",
        "inc(x=1)",
        2,
        "inc(x=1)",
    ),
    Case(
        "flytekit workflow",
        "flytekit",
        "from flytekit import task, workflow\n\n@task\ndef add(x: int) -> int:\n"
        "    return x + 1 + 0 * {n}\n\n@workflow\ndef flow(x: int) -> int:\n"
        "    return add(x=add(x=x))\n",
        "flow(x=1)",
        3,
        "flow(x=1)",
    ),
    Case(
        "flyte v2 task",
        "flyte",
        "import flyte\n\nenv = flyte.TaskEnvironment(name='bench', image='ghcr.io/acme/base:1')\n\n"
        "@env.task\ndef twice(x: int) -> int:\n    return 2 * x + 0 * {n}\n",
        "twice(x=2)",
        4,
        "twice.forward(x=2)",
    ),
]


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def _shell(folder: Path) -> Any:
    import IPython
    from IPython.testing.globalipapp import start_ipython

    os.chdir(folder)
    sys.path.insert(0, str(folder))
    shell = start_ipython() or IPython.get_ipython()
    shell.run_line_magic("load_ext", "flyte_jupyter")
    return shell


def _cell(shell: Any, source: str) -> None:
    result = shell.run_cell(source)
    if result.error_before_exec or result.error_in_exec:
        raise result.error_before_exec or result.error_in_exec


def _loop(shell: Any, case: Case, repeat: int, mode: str, counter: list[int]) -> None:
    """Time the three rows of ``case`` with ``local_runs = mode``."""
    option = f"--local-runs {mode} "
    counter[0] += 1
    _cell(shell, case.cell.format(n=counter[0]))
    first = shell.run_line_magic("flyte_run", f"--wait {option}{case.call}")
    assert first.status == "SUCCEEDED", first.logs()
    reuse, url, result = [], [], []
    for _ in range(repeat):
        started = time.perf_counter()
        run = shell.run_line_magic("flyte_run", f"{option}{case.call}")
        reuse.append(time.perf_counter() - started)
        run.wait(timeout=120)  # one at a time: runs must not overlap the next sample
    for _ in range(repeat):
        counter[0] += 1
        _cell(shell, case.cell.format(n=counter[0]))
        started = time.perf_counter()
        run = shell.run_line_magic("flyte_run", f"{option}{case.call}")
        url.append(time.perf_counter() - started)
        assert run.url
        run.wait(timeout=120)
    for _ in range(repeat):
        counter[0] += 1
        _cell(shell, case.cell.format(n=counter[0]))
        started = time.perf_counter()
        run = shell.run_line_magic("flyte_run", f"--wait {option}{case.call}")
        result.append(time.perf_counter() - started)
        assert run.outputs == case.expected, run.logs()
        assert run.record.extra.get("run_mode") == mode, run.record.extra
    case.rows[f"{mode} reuse"] = reuse
    case.rows[f"{mode} url"] = url
    case.rows[f"{mode} result"] = result
    case.rows["bare entrypoint"] = _bare_entrypoint(Path(first.record.run_dir), repeat)
    case.rows["in the kernel"] = _in_kernel(shell, case.local, repeat)


def _bare_entrypoint(run_dir: Path, repeat: int) -> list[float]:
    """The serialized command of a finished run, re-run by hand (the pod's own cost)."""
    command = json.loads((run_dir / "command.json").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTE_JUPYTER")}
    env.update(command["env"])  # the run's own variables (a benchmark has no secrets)
    argv = list(command["argv"])
    bundle = next(run_dir.glob("fast*.tar.gz"), None)  # the checked copy the run read
    if bundle is not None and command.get("bundle"):
        argv = [str(bundle) if a == command["bundle"]["uri"] else a for a in argv]
    samples = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="bare-") as tmp:
            out = Path(tmp)
            args = [a.replace(str(run_dir / "outputs"), str(out / "outputs")) for a in argv]
            (out / "work").mkdir()
            (out / "outputs").mkdir()  # the run's own folder exists before its command starts
            started = time.perf_counter()
            proc = subprocess.run(args, cwd=out / "work", env=env, capture_output=True, check=False)
            samples.append(time.perf_counter() - started)
            if proc.returncode:
                tail = proc.stderr.decode(errors="replace")[-2000:]
                raise RuntimeError(f"the bare entrypoint failed: {args[:1]}\n{tail}")
    return samples


def _in_kernel(shell: Any, call: str, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        _cell(shell, f"_ = {call}")
        samples.append(time.perf_counter() - started)
    return samples


def _import_floor(module: str, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        samples.append(time.perf_counter() - started)
    return samples


def _print(case: Case, floor: list[float]) -> list[tuple[str, bool]]:
    print(f"\n{case.label}")
    print(f"  {'measure':46} {'median s':>9} {'min s':>7} {'x bare':>7} {'goal':>7}")
    bare = _median(case.rows["bare entrypoint"])
    rows = [
        (f"import {case.sdk} (fresh interpreter)", floor, None),
        ("bare entrypoint on the same bundle", case.rows["bare entrypoint"], None),
        ("the task called in the kernel", case.rows["in the kernel"], None),
        ("%flyte_run, bundle reused -> URL", case.rows["warm reuse"], GOALS["reuse"]),
        ("edit, %flyte_run -> URL", case.rows["warm url"], GOALS["url"]),
        ("edit, %flyte_run --wait -> result", case.rows["warm result"], GOALS["result"]),
        ('  same, local_runs = "exact"', case.rows["exact result"], None),
        ('  edit -> URL, local_runs = "exact"', case.rows["exact url"], None),
    ]
    verdicts = []
    for name, samples, goal in rows:
        median = _median(samples)
        verdict = "" if goal is None else ("PASS" if median <= goal else "FAIL")
        shown = "" if goal is None else f"{goal:.3f}"
        line = f"  {name:46} {median:9.3f} {min(samples):7.3f} {median / bare:7.2f} {shown:>7}"
        print(f"{line} {verdict}")
        if goal is not None:
            verdicts.append((f"{case.label}: {name.strip()}", verdict == "PASS"))
    return verdicts


def main() -> None:
    """Measure and print the tables, then the verdicts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--skip-bundle", action="store_true", help="leave out the bundle row")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="launch-bench-"))
    os.environ["FLYTE_JUPYTER_HOME"] = str(tmp / "home")
    os.environ["FLYTE_JUPYTER_CONFIG_CEILING"] = str(tmp)
    os.environ["DO_NOT_TRACK"] = "1"
    shell = _shell(tmp)
    cases = [c for c in CASES if importlib.util.find_spec(c.sdk) is not None]
    counter = [0]
    for case in cases:
        for mode in ("exact", "warm"):
            _loop(shell, case, args.repeat, mode, counter)
    floors = {sdk: _import_floor(sdk, args.repeat) for sdk in {c.sdk for c in cases}}
    verdicts = [v for case in cases for v in _print(case, floors[case.sdk])]
    if not args.skip_bundle:
        print("\nfirst %flyte_bundle --copy-style all of a ~14 MB tree (benchmarks.bundle_bench)")
        subprocess.run(
            [sys.executable, "-m", "benchmarks.bundle_bench", "--corpus", "E"], check=False
        )
    failed = [name for name, ok in verdicts if not ok]
    print(f"\n{len(verdicts) - len(failed)}/{len(verdicts)} goals met")
    for name in failed:
        print(f"FAIL {name}")


if __name__ == "__main__":
    main()
