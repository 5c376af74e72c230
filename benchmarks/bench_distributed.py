"""The retrieval panel's rank sweep on Ray against the same sweep in this process, and the
extrapolation to 10M pairs from the measured per-block cost.

Run: ``python benchmarks/bench_distributed.py [--n 16384] [--d 512] [--cpus 2]`` (needs mmgate[ray]).
Both sides sweep the same unit rows in the same blocks of query rows against every candidate: locally
``sweep_ranks`` (its threads, one per CPU), on Ray ``ray_sweep`` (one task per run of blocks, one
CPU each, on a local cluster of ``--cpus`` CPUs started here). Best of ``--repeats`` alternating
rounds. The results are compared field by field (``distributed_equal``). Per block: the local
sweep's seconds per block times the CPUs it used, and the same for Ray, both CPU-seconds. The
extrapolation to 10M x 10M scores scales the per-block cost by the candidate count (a block's cost
is linear in N) and the block count by the query count. Last line:
``BENCH distributed_equal=<0|1> ray_over_local=<ratio> blocks=<n>``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pairtiming import alternating_rounds  # noqa: E402  (benchmarks/ is the script's own directory)

from mmgate.distributed.cluster import connect  # noqa: E402
from mmgate.distributed.panel import ray_sweep  # noqa: E402
from mmgate.panel.rank_sweep import sweep_ranks  # noqa: E402
from mmgate.panel.validate import block_rows  # noqa: E402

FIELDS = ("i2t", "t2i", "i2t_top1", "t2i_top1", "i2t_ties", "t2i_ties")
TARGET_PAIRS = 10_000_000


def unit_pairs(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded float32 unit rows, texts a noisy copy of their images (a model well above chance)."""
    rng = np.random.default_rng(seed)
    zi = rng.standard_normal((n, d), dtype=np.float32)
    zt = zi + rng.standard_normal((n, d), dtype=np.float32)
    return (zi / np.linalg.norm(zi, axis=1, keepdims=True), zt / np.linalg.norm(zt, axis=1, keepdims=True))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=16384)
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    zi, zt = unit_pairs(args.n, args.d)
    block = block_rows(None, args.n, zi.dtype.itemsize, args.d)
    blocks = -(-args.n // block)
    cluster = connect("local", num_cpus=args.cpus)
    on_ray = ray_sweep(cluster)
    on_ray(zi[:block], zt[:block], block, None)  # warm the workers (imports), as a long-lived cluster is
    times, results = alternating_rounds({"local": lambda: sweep_ranks(zi, zt, block),
                                         "ray": lambda: on_ray(zi, zt, block, None)}, args.repeats)
    t_local, t_ray = min(times["local"]), min(times["ray"])
    local, remote = results["local"], results["ray"]
    equal = all(np.array_equal(getattr(local, f), getattr(remote, f)) for f in FIELDS)
    per_block = {name: seconds * args.cpus / blocks for name, seconds in (("local", t_local), ("ray", t_ray))}
    print(f"N={args.n} d={args.d} block={block} rows x {args.n} candidates, {blocks} blocks, "
          f"{args.cpus} CPUs; best of {args.repeats}")
    print(f"local sweep_ranks {t_local:.2f} s ({per_block['local'] * 1e3:.1f} CPU-ms per block); "
          f"Ray tasks {t_ray:.2f} s ({per_block['ray'] * 1e3:.1f} CPU-ms per block); equal: {equal}")
    scale = TARGET_PAIRS / args.n
    cpu_hours = per_block["ray"] * scale * (blocks * scale) / 3600
    print(f"extrapolated to {TARGET_PAIRS:,} pairs (per-block cost x {scale:.0f} candidates, "
          f"{blocks * scale:,.0f} blocks): {cpu_hours:,.0f} CPU-hours on Ray, "
          f"{cpu_hours / 256:,.1f} h on 256 CPUs (the same sweep on GPUs: docs/scale.md)")
    print(f"BENCH distributed_equal={int(equal)} ray_over_local={t_ray / t_local:.2f} blocks={blocks}")


if __name__ == "__main__":
    main()
