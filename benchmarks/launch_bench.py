"""Launch latency: cell start -> URL (reused bundle), and a trivial task end to end.

Run: ``python -m benchmarks.launch_bench [--repeat 5]``. Everything is measured in this run,
median of N, beside its anchors:

* ``import flytekit`` in a fresh interpreter (the floor of any process that runs a task);
* the bare flytekit entrypoint: ``pyflyte-fast-execute ... -- pyflyte-execute ...`` on the
  same bundle and inputs, with no flyte_jupyter around it.

Targets (from the issue): cell -> URL <= 300 ms; end to end <= 1.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASK = "from flytekit import task\n\n@task\ndef inc(x: int) -> int:\n    return x + 1\n"


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def _shell(folder: Path):  # noqa: ANN202 - IPython's shell type
    import IPython
    from IPython.testing.globalipapp import start_ipython

    os.chdir(folder)
    sys.path.insert(0, str(folder))
    shell = start_ipython() or IPython.get_ipython()
    shell.run_line_magic("load_ext", "flyte_jupyter")
    shell.run_cell(TASK)
    return shell


def _bare_entrypoint(run_dir: Path, repeat: int) -> list[float]:
    """Time the serialized command of a finished run, re-run by hand."""
    import json

    command = json.loads((run_dir / "command.json").read_text())
    samples = []
    for i in range(repeat):
        out = Path(tempfile.mkdtemp(prefix="bare-"))
        argv = [a.replace(str(run_dir / "outputs"), str(out / "outputs")) for a in command["argv"]]
        work = out / "work"
        work.mkdir()
        started = time.perf_counter()
        subprocess.run(argv, cwd=work, env=command["env"], check=True, capture_output=True)
        samples.append(time.perf_counter() - started)
        assert (out / "outputs" / "outputs.pb").exists(), f"bare run {i} wrote no outputs"
    return samples


def _import_floor(repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import flytekit"], check=True)
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="launch-bench-"))
    os.environ["FLYTE_JUPYTER_HOME"] = str(tmp / "home")
    os.environ["FLYTE_JUPYTER_CONFIG_CEILING"] = str(tmp)
    shell = _shell(tmp)
    first = shell.run_line_magic("flyte_run", "--wait inc(x=1)")  # builds, checks, uploads
    assert first.status == "SUCCEEDED", first.logs()

    to_url, runs = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        run = shell.run_line_magic("flyte_run", "inc(x=1)")
        assert run.url
        to_url.append(time.perf_counter() - started)
        runs.append(run)
        run.wait(timeout=120)  # one at a time: do not let runs overlap the next sample

    end_to_end = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        run = shell.run_line_magic("flyte_run", "--wait inc(x=1)")
        end_to_end.append(time.perf_counter() - started)
        assert run.outputs == 2

    bare = _bare_entrypoint(Path(first.record.run_dir), args.repeat)
    floor = _import_floor(args.repeat)
    rows = [
        ("import flytekit (fresh interpreter)", floor, None),
        ("bare entrypoint: fast-execute -> execute", bare, None),
        ("cell -> URL (bundle reused)", to_url, 0.300),
        ("trivial task end to end (--wait)", end_to_end, 1.5),
    ]
    base = _median(bare)
    print(f"{'measure':44} {'median s':>9} {'min s':>7} {'x bare':>7} {'target':>8}")
    for name, samples, target in rows:
        median = _median(samples)
        verdict = "" if target is None else ("PASS" if median <= target else "FAIL")
        shown = "" if target is None else f"{target:.3f}"
        ratio = median / base
        print(f"{name:44} {median:9.3f} {min(samples):7.3f} {ratio:7.2f} {shown:>8} {verdict}")
    overhead = _median(end_to_end) - base
    print(f"\noverhead of flyte_jupyter over the bare entrypoint: {overhead:+.3f} s")


if __name__ == "__main__":
    main()
