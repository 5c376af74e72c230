"""Peak memory of a 100,000-row image manifest read the way mmgate reads a canary: the table is
parsed and checked up front, the fingerprint hashes file bytes, and images are decoded one batch at
a time. Compares the process's peak RSS after a full batched pass with the size the decoded pixels
would take if held at once.

Run: ``python benchmarks/bench_manifest.py [--rows 100000] [--side 224]``. Last line:
``BENCH manifest_rows=<n> peak_rss_mb=<x> decoded_all_mb=<y> rows_per_s=<z>``.
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mmgate.subjects.paired import PairedSet, row_slice  # noqa: E402

DISTINCT_FILES = 64
BATCH = 256


def write_manifest(root: Path, rows: int, side: int) -> Path:
    """``DISTINCT_FILES`` random RGB PNGs and a CSV of ``rows`` rows cycling over them."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(DISTINCT_FILES):
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(root / f"{i}.png")
    table = root / "canary.csv"
    with table.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["image", "caption"])
        for row in range(rows):
            writer.writerow([f"{row % DISTINCT_FILES}.png", f"caption {row}"])
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--side", type=int, default=224)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mmgate-manifest-") as tmp:
        table = write_manifest(Path(tmp), args.rows, args.side)
        started = time.perf_counter()
        canary = PairedSet.from_manifest(table)
        canary.fingerprint()
        for start in range(0, len(canary.texts), BATCH):
            batch = row_slice(canary.images, start, min(len(canary.texts), start + BATCH))
            assert batch[0].shape == (args.side, args.side, 3)
        seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    decoded_mb = args.rows * args.side * args.side * 3 / 2**20
    print(f"read, fingerprinted and decoded {args.rows} rows in batches of {BATCH} in {seconds:.1f} s")
    print(f"BENCH manifest_rows={args.rows} peak_rss_mb={peak_mb:.0f} decoded_all_mb={decoded_mb:.0f} "
          f"rows_per_s={args.rows / seconds:.0f}")


if __name__ == "__main__":
    main()
