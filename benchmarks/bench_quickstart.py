"""Wall time of the quick start's ``pytest --mmgate`` on the embedded default, serial.

Run: ``python benchmarks/bench_quickstart.py``. Runs ``python -m pytest --mmgate -p no:cacheprovider
-q -n 0`` in a fresh empty directory (so nothing is cached), as the README's quick start does after
installation; two BLAS threads, the two cores the README quotes. It reports two clocks of the same
run: the wall time of the whole command (interpreter start, imports, collection, the gates and the
bundle: what a user waits for, and what the README quotes) and pytest's own "in N s" (from session
start to its summary line, without the interpreter start and the plugin's imports). Last line:
``BENCH quickstart_serial_s=<wall> pytest_reported_s=<pytest's> decision=<APPROVE|...>
summary_lines=<n> report_html_kb=<n>``.
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
PYTEST_CLOCK = re.compile(r" in (\d+(?:\.\d+)?)s\b")
THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def quickstart(threads: int) -> tuple[float, float, str, int, int]:
    """Wall seconds, pytest's reported seconds, decision, summary.md lines and report.html KiB of one
    serial ``pytest --mmgate`` in a fresh temporary directory (removed afterwards)."""
    env = {**os.environ, **{name: str(threads) for name in THREADS}}
    with tempfile.TemporaryDirectory(prefix="mmgate-bench-") as tmp:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", "--mmgate", "-p", "no:cacheprovider", "-q",
                               "-n", "0"], cwd=tmp, capture_output=True, text=True, env=env)
        elapsed = time.perf_counter() - started
        found = DECISION.findall(done.stdout)
        clocks = PYTEST_CLOCK.findall(done.stdout)
        reported = float(clocks[-1]) if clocks else float("nan")
        if not found:
            return elapsed, reported, f"none(exit {done.returncode})", -1, -1
        decision, bundle = found[-1]
        path = Path(bundle.strip())
        path = path if path.is_absolute() else Path(tmp) / path
        lines = len((path / "summary.md").read_text("utf-8").splitlines())
        kib = round((path / "report.html").stat().st_size / 1024)
    return elapsed, reported, decision, lines, kib


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="BLAS threads (default: 2)")
    args = parser.parse_args()
    elapsed, reported, decision, lines, kb = quickstart(args.threads)
    print(f"pytest --mmgate (serial, {args.threads} BLAS threads): {elapsed:.1f} s wall, pytest reports "
          f"{reported:.1f} s, decision={decision}")
    print(f"BENCH quickstart_serial_s={elapsed:.2f} pytest_reported_s={reported:.2f} decision={decision} "
          f"summary_lines={lines} report_html_kb={kb}")


if __name__ == "__main__":
    main()
