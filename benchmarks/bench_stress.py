"""Hypothesis stress examples per minute under ``pytest --mmgate``, serial and on two workers.

Run: ``python benchmarks/bench_stress.py``. Gates the example user subject (no training, so the
time is the stress search itself) with only the stress gate selected, at ``--mmgate-stress N``,
and counts the examples each gate recorded in its evidence. Last line:
``BENCH stress_examples_per_min=<x> stress_n2_over_serial=<x>`` (the ratio is parallel over
serial wall time; lower is better).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "grid_subject.py"


def stress_run(workers: int, examples: int, seeds: int) -> tuple[float, int]:
    """Wall seconds and total stress examples of one run in a fresh directory."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(EXAMPLE, Path(tmp) / "grid_subject.py")
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "--mmgate", "-p", "no:cacheprovider", "-q",
                        "-n", str(workers), "-k", "stress_retrieval",
                        "--mmgate-subject", "grid_subject:make_subject",
                        "--mmgate-stress", str(examples), "--mmgate-seeds", str(seeds)],
                       cwd=tmp, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        counted = 0
        for acceptance in Path(tmp).glob("mmgate-out/*/acceptance.json"):
            for result in json.loads(acceptance.read_text("utf-8"))["facts_provided"]["gates"]:
                if result["gate"] == "stress_retrieval":
                    counted += int(result["evidence"].get("examples", 0))
    return elapsed, counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=50, help="examples per stress property")
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    serial_s, serial_n = stress_run(0, args.examples, args.seeds)
    parallel_s, parallel_n = stress_run(2, args.examples, args.seeds)
    print(f"serial   -n 0: {serial_n} examples in {serial_s:7.2f} s ({60 * serial_n / serial_s:.1f}/min)")
    print(f"parallel -n 2: {parallel_n} examples in {parallel_s:7.2f} s ({60 * parallel_n / parallel_s:.1f}/min)")
    print(f"BENCH stress_examples_per_min={60 * serial_n / serial_s:.1f} "
          f"stress_n2_over_serial={parallel_s / serial_s:.3f}")


if __name__ == "__main__":
    main()
