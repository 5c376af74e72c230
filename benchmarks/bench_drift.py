"""Benchmark of the embedding-drift statistics (a script, not a test): ``python benchmarks/bench_drift.py``.

Measured in one run, median of ``--repeats`` wall-clock timings, the two contenders' calls
alternating so both see the same machine load:
  * MMD² permutation test over the bare kernel: ``mmd2_test`` (median bandwidth, pooled float32
    kernel, 200 permutations, p-value) on 5,000 + 5,000 unit-norm float32 rows over one bare
    float32 Gaussian kernel matrix of the pooled 10,000 rows (squared distances from one matrix
    product, then exp), at d = 48 and d = 512 (goal ratio <= 3);
  * float32 kernel precision: the float32 test against the same test on float64 input (float64
    kernel) at d = 48: MMD² difference in units of the permutation null's spread, and both p-values;
  * the other drift statistics (KS per dimension, domain classifier, centroid) at d = 48 and 512;
  * throughput of ``mmgate.drift.profiles.compute_dataset_profile`` (sampled items per second) for
    text, vision and output data, when that module is present.
``--quick`` uses 1,000 + 1,000 rows. The last line is ``BENCH mmd_perm_over_kernel_d48=...
mmd_perm_over_kernel_d512=...``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pairtiming import alternating_times  # noqa: E402  (benchmarks/ is the script's own directory)

from mmgate.drift.domain_classifier import domain_classifier_auc
from mmgate.drift.embedding_drift import centroid_shift, ks_per_dimension
from mmgate.drift.mmd import (
    median_bandwidth,
    mmd2_statistics,
    mmd2_test,
    permutation_splits,
)

PERMUTATIONS = 200


def median_of_pair(first, second, repeats: int) -> tuple[float, float, object, object]:
    """Median wall-clock time of ``repeats`` alternating calls of each function, and the last results."""
    a, b, first_result, second_result = alternating_times(first, second, repeats)
    return float(np.median(a)), float(np.median(b)), first_result, second_result


def unit_samples(n: int, d: int, shift: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Float32 unit-norm rows of two isotropic Gaussian clouds, the new one moved by ``shift`` (in
    units of one coordinate's sd) along coordinate 0 before normalisation: a small drift."""
    rng = np.random.default_rng(seed)
    ref = rng.standard_normal((n, d), dtype=np.float32)
    new = rng.standard_normal((n, d), dtype=np.float32)
    new[:, 0] += np.float32(shift)
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    new /= np.linalg.norm(new, axis=1, keepdims=True)
    return ref, new


def bare_kernel(pooled: np.ndarray, bandwidth: float) -> np.ndarray:
    """The bare cost: float32 squared distances from one product Z Zᵀ, then exp(-D / (2 sigma²))."""
    sq = np.einsum("ij,ij->i", pooled, pooled)
    kernel = pooled @ pooled.T
    kernel *= np.float32(-2.0)
    kernel += sq[:, None]
    kernel += sq[None, :]
    kernel *= np.float32(-1.0 / (2.0 * bandwidth * bandwidth))
    np.exp(kernel, out=kernel)
    return kernel


def mmd_over_kernel(n: int, d: int, repeats: int) -> float:
    """Print and return median(mmd2_test) / median(bare kernel) at n + n rows of dimension d."""
    ref, new = unit_samples(n, d, shift=0.15)
    pooled = np.concatenate([ref, new])
    sigma = median_bandwidth(ref, new, seed=0)
    t_kernel, t_mmd, _, result = median_of_pair(lambda: bare_kernel(pooled, sigma),
                                                lambda: mmd2_test(ref, new, permutations=PERMUTATIONS, seed=0),
                                                repeats)
    ratio = t_mmd / t_kernel
    print(f"[n={n}+{n} d={d}] mmd2_test ({PERMUTATIONS} permutations, {result.kernel_dtype} kernel) {t_mmd:.3f}s vs "
          f"bare kernel of {2 * n} rows {t_kernel:.3f}s -> ratio {ratio:.2f} (goal <= 3); mmd2={result.mmd2:.3e} "
          f"p={result.p_value:.4f} relative_mmd={result.relative_mmd:.4f}")
    return ratio


def float32_precision(n: int, d: int) -> None:
    """Print how far the float32 kernel's statistics are from float64 ones, in null-spread units."""
    ref, new = unit_samples(n, d, shift=0.15)
    sigma = median_bandwidth(ref, new, seed=0)
    splits = permutation_splits(n, n, PERMUTATIONS, seed=0)
    s32 = mmd2_statistics(ref, new, splits, sigma)
    s64 = mmd2_statistics(ref.astype(np.float64), new.astype(np.float64), splits, sigma)
    spread = float(s64[1:].std())
    worst = float(np.abs(s32 - s64).max())
    p32 = (1 + np.count_nonzero(s32[1:] >= s32[0])) / (1 + PERMUTATIONS)
    p64 = (1 + np.count_nonzero(s64[1:] >= s64[0])) / (1 + PERMUTATIONS)
    print(f"[n={n}+{n} d={d}] float32 vs float64 kernel over {PERMUTATIONS + 1} splits: max |diff| {worst:.2e} = "
          f"{worst / spread:.2e} null sd; p-values {p32:.4f} / {p64:.4f}")


def other_statistics(n: int, d: int) -> None:
    """Print the wall-clock time of the remaining statistics (one call each)."""
    ref, new = unit_samples(n, d, shift=0.15)
    parts = []
    for name, fn in (("ks_per_dimension", ks_per_dimension), ("domain_classifier_auc", domain_classifier_auc),
                     ("centroid_shift", centroid_shift)):
        start = time.perf_counter()
        fn(ref, new)
        parts.append(f"{name} {time.perf_counter() - start:.3f}s")
    print(f"[n={n}+{n} d={d}] " + ", ".join(parts))


def profile_throughput(n: int, repeats: int) -> None:
    """Print sampled items per second of compute_dataset_profile per modality (sample_size=1000)."""
    try:
        from mmgate.drift.profiles import compute_dataset_profile
    except ImportError as err:
        print(f"compute_dataset_profile: not measured, mmgate.drift.profiles does not import ({err})")
        return
    rng = np.random.default_rng(1)
    datasets = {"text": rng.integers(0, 5000, size=(n, 64)),
                "vision": rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8),
                "output": rng.integers(0, 100, size=10 * n)}
    parts = []
    for modality, data in datasets.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            profile = compute_dataset_profile(data, modality, sample_size=1000, seed=0)
            times.append(time.perf_counter() - start)
        parts.append(f"{modality} {profile['n_sampled'] / float(np.median(times)):,.0f} items/s")
    print("compute_dataset_profile (sample_size=1000; text int (N, 64), vision uint8 (N, 3, 32, 32), output "
          "int ids): " + ", ".join(parts))


def main() -> None:
    """Run the measurements and print the BENCH line last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 + 1,000 rows (seconds, not a minute)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per contender (median reported)")
    args = parser.parse_args()
    n = 1000 if args.quick else 5000
    print(f"machine: {platform.machine()} cpus={os.cpu_count()} load={os.getloadavg()} numpy={np.__version__}"
          f"{' (quick sizes)' if args.quick else ''}")
    print(f"data: float32 unit rows, new cloud shifted 0.15 sd along one coordinate; timings: median of "
          f"{args.repeats} alternating wall-clock runs")
    ratio48 = mmd_over_kernel(n, 48, args.repeats)
    ratio512 = mmd_over_kernel(n, 512, args.repeats)
    float32_precision(n, 48)
    other_statistics(n, 48)
    other_statistics(n, 512)
    profile_throughput(10 * n, args.repeats)
    print(f"BENCH mmd_perm_over_kernel_d48={ratio48:.3f} mmd_perm_over_kernel_d512={ratio512:.3f}")


if __name__ == "__main__":
    main()
