"""Wall time of ``pytest --mmgate`` on the embedded default, serial and on two xdist workers.

Run: ``python benchmarks/bench_gate_run.py``. Each mode runs in a fresh empty directory; the
decisions must agree. Last line: ``BENCH gate_serial_s=<x> gate_n2_over_serial=<x>``
(goals: <= 60 s serial on 2 cores, ratio <= 0.75).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DECISION = re.compile(r"^mmgate: decision=(\w+) bundle=", re.M)


def gate_run(workers: int, seeds: int) -> tuple[float, str]:
    """Seconds and decision of one ``pytest --mmgate -n <workers>`` in a fresh directory."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "--mmgate", "-p", "no:cacheprovider",
                               "-q", "-n", str(workers), "--mmgate-seeds", str(seeds)],
                              cwd=Path(tmp), capture_output=True, text=True)
        elapsed = time.perf_counter() - started
    found = DECISION.findall(done.stdout)
    return elapsed, found[-1] if found else f"no decision (exit {done.returncode})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=4, help="seeds per run (default: the plugin default)")
    args = parser.parse_args()
    serial, serial_decision = gate_run(0, args.seeds)
    parallel, parallel_decision = gate_run(2, args.seeds)
    print(f"serial   -n 0: {serial:7.2f} s  decision={serial_decision}")
    print(f"parallel -n 2: {parallel:7.2f} s  decision={parallel_decision}")
    if serial_decision != parallel_decision:
        print("WARNING: the two modes disagree on the decision")
    print(f"BENCH gate_serial_s={serial:.2f} gate_n2_over_serial={parallel / serial:.3f}")


if __name__ == "__main__":
    main()
