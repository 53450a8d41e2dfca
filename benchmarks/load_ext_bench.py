"""What ``%load_ext flyte_jupyter`` adds to a kernel, measured in fresh interpreters.

Run: ``python -m benchmarks.load_ext_bench [--repeat 7]``. Each sample starts a fresh Python,
starts an IPython shell (the anchor: what every kernel pays anyway), then times
``%load_ext flyte_jupyter`` alone and lists which heavy modules it pulled in (none may be).
Target (issue): <= 100 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

PROBE = """
import json, sys, time
t0 = time.perf_counter()
from IPython.testing.globalipapp import start_ipython
shell = start_ipython()
t1 = time.perf_counter()
before = set(sys.modules)
shell.run_line_magic("load_ext", "flyte_jupyter")
t2 = time.perf_counter()
heavy = sorted({m.split(".")[0] for m in set(sys.modules) - before}
               & {"flytekit", "s3fs", "tornado", "ipywidgets", "botocore", "jupyter_server"})
print(json.dumps({"shell": t1 - t0, "load_ext": t2 - t1, "heavy": heavy}))
"""


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    samples = []
    for _ in range(args.repeat):
        out = subprocess.run(
            [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True
        ).stdout
        samples.append(json.loads(out.strip().splitlines()[-1]))
    shell = statistics.median(s["shell"] for s in samples)
    load = statistics.median(s["load_ext"] for s in samples)
    heavy = sorted({m for s in samples for m in s["heavy"]})
    print(f"IPython shell start (anchor)   {shell * 1000:7.1f} ms")
    print(f"%load_ext flyte_jupyter        {load * 1000:7.1f} ms  ({load / shell:.2f}x the shell)")
    print(f"heavy modules imported         {heavy or 'none'}")
    print(f"target <= 100 ms: {'PASS' if load <= 0.100 and not heavy else 'FAIL'}")


if __name__ == "__main__":
    main()
