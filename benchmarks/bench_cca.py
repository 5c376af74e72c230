"""Benchmark of the CCA permutation null (a script, not a test): ``python benchmarks/bench_cca.py``.

The gate's chance-corrected CCA needs the proxy of the observed pairing and of 20 row-shuffled
pairings. Measured side by side in one run, the two contenders' calls alternating so both see the
same machine load, best of ``--repeats`` wall-clock timings each:
  * naive: the former ``cca_proxy`` called once per pairing (two d x d eigendecompositions, a d x d
    SVD and three N x d x d products every time), kept here as the baseline;
  * panel: ``cca_proxies`` over the same 21 orders (each modality whitened once, one product and one
    eigensolve per order).
Data: N=500 pairs, d=512, float32, text = image + 5 x noise. ``--quick`` uses N=256, d=128. The
spread is over the per-repeat time ratios (naive / panel, same repeat). The last line is ``BENCH
cca_null_speedup_n500_d512=... spread_min=... spread_median=... spread_max=... max_abs_diff=...``
(speed-up: best naive time / best panel time; max_abs_diff: largest gap between the 21 values).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pairtiming import alternating_times  # noqa: E402  (benchmarks/ is the script's own directory)

from mmgate.panel.probes import cca_proxies  # noqa: E402

N_NULL = 20
TOPK = 10


def _inverse_sqrt(cov: np.ndarray, ridge: float) -> np.ndarray:
    """(cov + ridge * mean eigenvalue * I)^(-1/2) by eigendecomposition (the former helper)."""
    lam, vectors = np.linalg.eigh(cov)
    shift = ridge * max(float(np.trace(cov)) / cov.shape[0], np.finfo(np.float64).tiny)
    return (vectors / np.sqrt(np.clip(lam, 0.0, None) + shift)) @ vectors.T


def naive_cca(zi: np.ndarray, zt: np.ndarray, topk: int = TOPK, ridge: float = 1e-3) -> float:
    """The former ``cca_proxy``: whiten both sides, whitened cross-covariance, one SVD."""
    x = zi.astype(np.float64)
    y = zt.astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y /= np.linalg.norm(y, axis=1, keepdims=True)
    x -= x.mean(axis=0)
    y -= y.mean(axis=0)
    n = x.shape[0]
    whitened_cross = _inverse_sqrt(x.T @ x / n, ridge) @ (x.T @ y / n) @ _inverse_sqrt(y.T @ y / n, ridge)
    return float(np.mean(np.linalg.svd(whitened_cross, compute_uv=False)[:topk]))


def paired_data(n: int, d: int, noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Float32 pairs: text = image + noise (noise sets how well the towers align)."""
    rng = np.random.default_rng(seed)
    zi = rng.standard_normal((n, d), dtype=np.float32)
    zt = noise * rng.standard_normal((n, d), dtype=np.float32)
    zt += zi
    return zi, zt


def null_orders(n: int, seed: int = 7) -> list[np.ndarray]:
    """The observed order and ``N_NULL`` seeded row permutations, as the gate draws them."""
    rng = np.random.default_rng(seed)
    return [np.arange(n)] + [rng.permutation(n) for _ in range(N_NULL)]


def main() -> None:
    """Time both contenders, check they agree, print the BENCH line last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    parser.add_argument("--repeats", type=int, default=5, help="alternating timings per contender")
    args = parser.parse_args()
    n, d = (256, 128) if args.quick else (500, 512)
    zi, zt = paired_data(n, d, 5.0)
    orders = null_orders(n)
    print(f"machine: {platform.machine()} cpus={os.cpu_count()} load={os.getloadavg()} numpy={np.__version__}"
          f"{' (quick sizes)' if args.quick else ''}")
    naive_times, panel_times, naive, panel = alternating_times(
        lambda: np.array([naive_cca(zi, zt[order]) for order in orders]),
        lambda: cca_proxies(zi, zt, orders, topk=TOPK), args.repeats)
    ratios = [a / b for a, b in zip(naive_times, panel_times)]
    speedup = min(naive_times) / min(panel_times)
    diff = float(np.max(np.abs(naive - panel)))
    print(f"[N={n} d={d} observed + {N_NULL} permutations, topk={TOPK}] naive {min(naive_times):.3f}s "
          f"(median {np.median(naive_times):.3f}s) vs cca_proxies {min(panel_times):.3f}s "
          f"(median {np.median(panel_times):.3f}s), best of {args.repeats} alternating")
    print(f"speed-up {speedup:.1f}x (goal >= 10); per-repeat ratios {', '.join(f'{r:.1f}' for r in ratios)}; "
          f"observed cca {panel[0]:.6f}, null mean {panel[1:].mean():.6f}; max |naive - panel| {diff:.1e}")
    print(f"BENCH cca_null_speedup_n{n}_d{d}={speedup:.2f} spread_min={min(ratios):.2f} "
          f"spread_median={np.median(ratios):.2f} spread_max={max(ratios):.2f} max_abs_diff={diff:.1e}")


if __name__ == "__main__":
    main()
