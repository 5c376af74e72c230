"""Wall time of the quick start's ``pytest --mmgate`` on the embedded default, serial.

Run: ``python benchmarks/bench_quickstart.py``. Runs ``python -m pytest --mmgate -p no:cacheprovider
-q -n 0`` in a fresh empty directory (so nothing is cached), as the README's quick start does after
installation; two BLAS threads, the two cores the README quotes. Last line:
``BENCH quickstart_serial_s=<x> decision=<APPROVE|...> summary_lines=<n> report_html_kb=<n>``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DECISION = re.compile(r"^mmgate: decision=(\w+) bundle=(.+)$", re.M)
THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def quickstart(threads: int) -> tuple[float, str, int, int]:
    """Seconds, decision, summary.md lines and report.html KiB of one serial ``pytest --mmgate``
    in a fresh temporary directory (removed afterwards)."""
    env = {**os.environ, **{name: str(threads) for name in THREADS}}
    with tempfile.TemporaryDirectory(prefix="mmgate-bench-") as tmp:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "--mmgate", "-p", "no:cacheprovider", "-q",
                               "-n", "0"], cwd=tmp, capture_output=True, text=True, env=env)
        elapsed = time.perf_counter() - started
        found = DECISION.findall(done.stdout)
        if not found:
            return elapsed, f"none(exit {done.returncode})", -1, -1
        decision, bundle = found[-1]
        path = Path(bundle.strip())
        path = path if path.is_absolute() else Path(tmp) / path
        lines = len((path / "summary.md").read_text("utf-8").splitlines())
        kib = round((path / "report.html").stat().st_size / 1024)
    return elapsed, decision, lines, kib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads (default: 2)")
    args = parser.parse_args()
    elapsed, decision, lines, kb = quickstart(args.threads)
    print(f"pytest --mmgate (serial, {args.threads} BLAS threads): {elapsed:.1f} s, decision={decision}")
    print(f"BENCH quickstart_serial_s={elapsed:.2f} decision={decision} summary_lines={lines} "
          f"report_html_kb={kb}")


if __name__ == "__main__":
    main()
