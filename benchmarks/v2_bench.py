"""flyte v2 in a notebook: stock v2's pickled bundle against this project's source bundle.

Run: ``python -m benchmarks.v2_bench [--kernels 5] [--repeat 3]``. Everything is measured in
this run, in fresh IPython kernels started with ``jupyter_client`` (kernelspec pinned to this
interpreter in a temporary ``JUPYTER_DATA_DIR``; ``DO_NOT_TRACK=1``; each kernel its own
``FLYTE_JUPYTER_HOME``). All kernels run the same notebook cells in the same project folder.

* Digest stability: in each kernel, stock v2's ``build_pkl_bundle`` (what ``flyte.run`` does
  in a kernel: ``code_bundle.pkl.gz``, version = md5 of the file) and ``%flyte_bundle`` on the
  same task. Printed: the share of kernel pairs whose digests are equal (the issue expects 0 %
  for the pickle, 100 % for the source bundle; ours is the goal, PASS at 100 %). Two tasks:
  ``square(x: int)`` and ``scaled(p: Params)`` with a dataclass defined in the notebook, since
  cloudpickle pickles a class defined in ``__main__`` by value with a per-process tracker id,
  whereas a task with builtin types only may pickle to the same bytes in every kernel.
* Times, median of N, in one kernel: edit the task cell, then ``%flyte_run square(x=N)`` until
  the Run with its URL returns ("edit -> URL") and ``%flyte_run --wait`` until the result
  ("edit -> result"). Anchor: the bare ``a0`` (flyte v2's container entrypoint) re-run by hand
  from a finished run's serialized command, on the same bundle and ``inputs.pb``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
KERNEL_NAME = "fj-bench-python"
TIMEOUT = 180
IMAGE = "base=ghcr.io/acme/base:1.0"
MARK = "FJ_BENCH "

SETUP = (
    "%load_ext flyte_jupyter",
    "import flyte",
    'env = flyte.TaskEnvironment(name="bench", image=flyte.Image.from_ref_name("base"))',
    (
        "from dataclasses import dataclass\n\n"
        "@dataclass\nclass Params:\n    n: int\n    scale: float = 2.0"
    ),
    "@env.task\ndef scaled(p: Params) -> float:\n    return p.n * p.scale",
)
TASKS = ("square", "scaled")  # an int input; a dataclass input defined in the notebook
TASK = "@env.task\ndef square(x: int) -> int:\n    return x * x{extra}\n"

STOCK_PKL = """\
import hashlib as _h, pathlib as _p, tempfile as _t
from flyte._code_bundle.bundle import build_pkl_bundle
_dest = _p.Path(_t.mkdtemp(prefix="stock-pkl-"))
_cb = await build_pkl_bundle({task}, upload_to_controlplane=False, copy_bundle_to=_dest)
_data = _p.Path(_cb.pkl).read_bytes()
print({mark!r} + __import__("json").dumps({{"version": _cb.computed_version,
    "md5": _h.md5(_data).hexdigest(), "sha256": _h.sha256(_data).hexdigest()}}))
"""
OURS = """\
b = %flyte_bundle {task}
print({mark!r} + __import__("json").dumps({{"digest": b.digest}}))
"""
TIMED_RUN = """\
import time as _time
_started = _time.perf_counter()
r = %flyte_run {flags}--image {image} square(x={x})
_seconds = _time.perf_counter() - _started
assert r.url, r
r.wait(timeout=120)
print({mark!r} + __import__("json").dumps({{"seconds": _seconds, "status": r.status,
    "outputs": r.outputs, "url": r.url, "run_dir": str(r.record.run_dir)}}))
"""


class Kernel:
    """One fresh kernel; ``run`` executes a cell and returns its marked JSON line."""

    def __init__(self, folder: Path, home: Path) -> None:
        from jupyter_client.manager import KernelManager

        env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTE_JUPYTER_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env["FLYTE_JUPYTER_HOME"] = str(home)
        env["FLYTE_JUPYTER_CONFIG_CEILING"] = str(folder)
        env["JPY_SESSION_NAME"] = str(folder / "bench.ipynb")
        env["DO_NOT_TRACK"] = "1"
        self.km = KernelManager(kernel_name=KERNEL_NAME)
        self.km.start_kernel(cwd=str(folder), env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=TIMEOUT)
        for cell in SETUP:
            self.run(cell)

    def run(self, code: str) -> dict[str, Any] | None:
        """Execute ``code``; raise with its output if it fails; return its marked line."""
        msg_id = self.kc.execute(code, stop_on_error=False)
        text: list[str] = []
        while True:
            try:
                io = self.kc.get_iopub_msg(timeout=TIMEOUT)
            except queue.Empty as exc:
                raise TimeoutError(f"no reply in {TIMEOUT} s to:\n{code}") from exc
            if io["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = io["msg_type"], io["content"]
            if kind == "status" and content["execution_state"] == "idle":
                break
            if kind == "stream":
                text.append(content["text"])
            elif kind == "error":
                text.append(f"{content['ename']}: {content['evalue']}")
                raise RuntimeError(f"cell failed:\n{code}\n---\n{''.join(text)}")
        marked = [
            line.removeprefix(MARK) for line in "".join(text).splitlines() if line.startswith(MARK)
        ]
        return json.loads(marked[-1]) if marked else None

    def stop(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def _pin_kernelspec(data_dir: Path) -> None:
    """A kernelspec for this interpreter; the user-level ``python3`` may be another Python."""
    spec = data_dir / "kernels" / KERNEL_NAME
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "bench", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel))
    os.environ["JUPYTER_DATA_DIR"] = str(data_dir)
    os.environ["JUPYTER_PATH"] = str(data_dir)


def _pair_equality(values: list[str]) -> float:
    pairs = list(itertools.combinations(values, 2))
    return sum(a == b for a, b in pairs) / len(pairs)


def _bare_argv(run_dir: Path) -> list[str]:
    return json.loads((run_dir / "command.json").read_text())["argv"]


def _bare_a0(run_dir: Path, repeat: int) -> list[float]:
    """Re-run a finished run's serialized ``a0`` command by hand, same bundle and inputs."""
    command = json.loads((run_dir / "command.json").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLYTE_JUPYTER_")}
    env.update({k: v for k, v in command["env"].items() if "***" not in str(v)})
    env["DO_NOT_TRACK"] = "1"
    samples = []
    for i in range(repeat):
        out = Path(tempfile.mkdtemp(prefix="bare-a0-"))
        argv = [a.replace(str(run_dir), str(out)) for a in command["argv"]]
        for sub in ("outputs", "work", "raw"):
            (out / sub).mkdir(exist_ok=True)
        (out / "inputs.pb").write_bytes((run_dir / "inputs.pb").read_bytes())
        started = time.perf_counter()
        done = subprocess.run(argv, cwd=out / "work", env=env, capture_output=True, check=False)
        samples.append(time.perf_counter() - started)
        if done.returncode or not (out / "outputs" / "outputs.pb").exists():
            msg = f"bare a0 run {i} failed ({done.returncode}):\n{done.stderr.decode()[-2000:]}"
            raise RuntimeError(msg)
    return samples


def _stability(
    tmp: Path, kernels: int
) -> tuple[dict[str, list[Any]], dict[str, list[Any]], Kernel]:
    """Stock pkl and our digest of each task in ``kernels`` fresh kernels; the last stays up."""
    folder = tmp / "project"
    folder.mkdir()
    stock: dict[str, list[Any]] = {task: [] for task in TASKS}
    ours: dict[str, list[Any]] = {task: [] for task in TASKS}
    kernel = None
    for i in range(kernels):
        if kernel is not None:
            kernel.stop()
        kernel = Kernel(folder, tmp / f"home-{i}")
        kernel.run(TASK.format(extra=""))
        for task in TASKS:
            stock[task].append(kernel.run(STOCK_PKL.format(task=task, mark=MARK)))
            ours[task].append(kernel.run(OURS.format(task=task, mark=MARK))["digest"])  # type: ignore[index]
    assert kernel is not None
    return stock, ours, kernel


def _timed(kernel: Kernel, repeat: int, flags: str, offset: int) -> list[dict[str, Any]]:
    samples = []
    for i in range(repeat):
        kernel.run(TASK.format(extra=f" + {offset + i}"))  # an edit: a new bundle each time
        sample = kernel.run(TIMED_RUN.format(flags=flags, image=IMAGE, x=7, mark=MARK))
        assert sample is not None
        if sample["status"] != "SUCCEEDED" or sample["outputs"] != 49 + offset + i:
            raise RuntimeError(f"run {i} did not give {49 + offset + i}: {sample}")
        samples.append(sample)
    return samples


def main() -> None:
    """Measure and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="v2-bench-"))
    _pin_kernelspec(tmp / "jupyter")
    os.environ["DO_NOT_TRACK"] = "1"
    load = os.getloadavg()[0]

    stock, ours, kernel = _stability(tmp, args.kernels)
    try:
        warm = _timed(kernel, 1, "--wait ", 1000)  # first run of the kernel: imports, checks
        to_url = _timed(kernel, args.repeat, "", 0)
        to_result = _timed(kernel, args.repeat, "--wait ", 100)
    finally:
        kernel.stop()
    bare = _bare_a0(Path(warm[0]["run_dir"]), args.repeat)

    n = args.kernels
    print(f"digest stability, {n} fresh kernels, same notebook ({n * (n - 1) // 2} pairs)")
    print(f"{'bundle':46} {'distinct':>8} {'equal pairs':>12} {'goal':>6}")
    rows = []
    for task in TASKS:
        rows += [
            (f"{task}: stock v2 pkl md5 (= its version)", [s["md5"] for s in stock[task]], None),
            (f"{task}: stock v2 pkl sha256", [s["sha256"] for s in stock[task]], None),
            (f"{task}: flyte_jupyter %flyte_bundle digest", ours[task], 1.0),
        ]
    for name, values, goal in rows:
        share = _pair_equality(values)
        verdict = "" if goal is None else ("PASS" if share >= goal else "FAIL")
        shown = "" if goal is None else f"{goal:.0%}"
        print(f"{name:46} {len(set(values)):8d} {share:12.0%} {shown:>6} {verdict}")
    assert all(s["version"] == s["md5"] for v in stock.values() for s in v), (
        "v2's version is not the file's md5"
    )

    print(f"\ntimes, median of {args.repeat}, one kernel, after an edit of the task cell")
    base = statistics.median(bare)
    print(f"{'measure':46} {'median s':>9} {'min s':>7} {'x bare a0':>10}")
    timed = [
        ("bare a0 on the same bundle + inputs.pb", bare),
        ("edit -> URL (%flyte_run)", [s["seconds"] for s in to_url]),
        ("edit -> result (%flyte_run --wait)", [s["seconds"] for s in to_result]),
    ]
    for name, samples in timed:
        median = statistics.median(samples)
        print(f"{name:46} {median:9.3f} {min(samples):7.3f} {median / base:10.2f}")
    overhead = statistics.median(timed[2][1]) - base
    print(f"\noverhead of edit -> result over the bare a0: {overhead:+.3f} s")
    print(f"URL example: {to_url[-1]['url']}")
    print(f"bare command: {' '.join(_bare_argv(Path(warm[0]['run_dir']))[:3])} ...")
    print(f"machine load (1-min loadavg at start): {load:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
