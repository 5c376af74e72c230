"""Benchmark of the retrieval panel (a script, not a test): ``python benchmarks/bench_panel.py``.

Measured side by side in one run, best of 5 wall-clock timings each (best/median/worst printed),
the two contenders' calls alternating so both see the same machine load:
  * panel / bare product: ``retrieval_metrics`` (both directions, MRR, ties, top-1, from raw
    float32 embeddings) over one bare float32 ``Zi @ Zt.T`` (N x N) at N=8192, d=512;
  * speed-up over a naive recall@k (full N x N scores, argsort of every row, both directions) at
    N=8192, d=512 and N=4096, d=48;
  * peak RSS of ``retrieval_metrics`` at N=100,000, d=256 in a fresh subprocess that only makes the
    float32 data and runs the panel (total peak and peak minus the post-data baseline); it runs
    first, because Linux starts a child's ru_maxrss at the parent's peak.
``--quick`` uses small sizes. The last line is ``BENCH panel_over_gemm=... speedup_argsort_d512=...
speedup_argsort_d48=... rss_100k_mb=...`` (rss: total peak of the subprocess, MB).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pairtiming import alternating_times  # noqa: E402  (benchmarks/ is the script's own directory)

from mmgate.panel import retrieval_metrics  # noqa: E402

KS = (1, 5, 10)
_RSS_CHILD = """
import json, resource, sys, time
import numpy as np
from mmgate.panel import retrieval_metrics
n, d = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
zi = rng.standard_normal((n, d), dtype=np.float32)
zt = rng.standard_normal((n, d), dtype=np.float32)
zt *= 4.0
zt += zi
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
metrics = retrieval_metrics(zi, zt, ks=(1, 5, 10))
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    hwm = int(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1])
except (OSError, StopIteration):
    hwm = -1
print(json.dumps({"base_kb": base, "peak_kb": peak, "hwm_kb": hwm, "seconds": seconds,
                  "recall1": metrics["i2t_recall@1"]}))
"""


def spread(name: str, times: list[float]) -> str:
    """'name best/median/worst s' of one contender's timings."""
    return f"{name} {min(times):.3f}/{statistics.median(times):.3f}/{max(times):.3f}s"


def best_of_pair(first, second, repeats: int = 5, names: tuple[str, str] = ("first", "second")
                 ) -> tuple[float, float, object, object]:
    """Smallest wall-clock time of ``repeats`` alternating calls of each function, and the last
    results; prints the spread (best/median/worst) of both."""
    a, b, first_result, second_result = alternating_times(first, second, repeats)
    print(f"  spread (best/median/worst of {repeats}): {spread(names[0], a)}; {spread(names[1], b)}")
    return min(a), min(b), first_result, second_result


def paired_data(n: int, d: int, noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Float32 pairs: text = image + noise (noise sets how well the towers align)."""
    rng = np.random.default_rng(seed)
    zi = rng.standard_normal((n, d), dtype=np.float32)
    zt = noise * rng.standard_normal((n, d), dtype=np.float32)
    zt += zi
    return zi, zt


def naive_recall(zi: np.ndarray, zt: np.ndarray, ks: tuple[int, ...] = KS) -> dict[str, float]:
    """The seed's approach: full score matrix, argsort each row, position of the true match."""
    ui = zi / np.linalg.norm(zi, axis=1, keepdims=True)
    ut = zt / np.linalg.norm(zt, axis=1, keepdims=True)
    scores = ui @ ut.T
    truth = np.arange(scores.shape[0])[:, None]
    i2t = np.argmax(np.argsort(-scores, axis=1) == truth, axis=1)
    t2i = np.argmax(np.argsort(-scores.T, axis=1) == truth, axis=1)
    return {**{f"i2t_recall@{k}": float(np.mean(i2t < k)) for k in ks},
            **{f"t2i_recall@{k}": float(np.mean(t2i < k)) for k in ks}}


def compare_with_naive(n: int, d: int, noise: float) -> tuple[float, float, float, bool, float]:
    """(panel seconds, naive seconds, speed-up, recall agrees, i2t recall@1) at one size."""
    zi, zt = paired_data(n, d, noise)
    t_panel, t_naive, panel, naive = best_of_pair(lambda: retrieval_metrics(zi, zt, ks=KS),
                                                  lambda: naive_recall(zi, zt), names=("panel", "argsort"))
    agree = all(abs(panel[key] - value) <= 2.0 / n for key, value in naive.items())
    return t_panel, t_naive, t_naive / t_panel, agree, panel["i2t_recall@1"]


def panel_over_gemm(n: int, d: int, noise: float) -> tuple[float, float, float, float]:
    """(panel seconds, bare product seconds, ratio, i2t recall@1)."""
    zi, zt = paired_data(n, d, noise)
    t_gemm, t_panel, _, panel = best_of_pair(lambda: zi @ zt.T, lambda: retrieval_metrics(zi, zt, ks=KS),
                                            names=("bare", "panel"))
    return t_panel, t_gemm, t_panel / t_gemm, panel["i2t_recall@1"]


def rss_in_subprocess(n: int, d: int) -> dict[str, float]:
    """Peak RSS (MB) of a fresh interpreter that makes float32 data and runs retrieval_metrics."""
    root = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(n), str(d)], capture_output=True, text=True,
                          check=True, env=env)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return {"total_mb": out["peak_kb"] / 1024.0, "over_data_mb": (out["peak_kb"] - out["base_kb"]) / 1024.0,
            "hwm_mb": out["hwm_kb"] / 1024.0, "seconds": out["seconds"], "recall1": out["recall1"]}


def main() -> None:
    """Run the three measurements and print the BENCH line last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds, not minutes)")
    args = parser.parse_args()
    # (N, d, noise): the noise puts i2t recall@1 near 0.75, a healthy model; "near chance" uses 50
    big, small, rss_n = ((2048, 512, 5.5), (1024, 48, 1.5), 20_000) if args.quick else \
        ((8192, 512, 5.0), (4096, 48, 1.5), 100_000)
    print(f"machine: {platform.machine()} cpus={os.cpu_count()} load={os.getloadavg()} numpy={np.__version__}"
          f"{' (quick sizes)' if args.quick else ''}")
    print("data: float32, text = image + noise x N(0, 1); timings: best of 5 alternating wall-clock runs")

    rss = rss_in_subprocess(rss_n, 256)
    print(f"[N={rss_n} d=256 recall@1={rss['recall1']:.2f}] fresh subprocess (run first: Linux copies the "
          f"parent's peak into a child's ru_maxrss): total peak RSS {rss['total_mb']:.0f} MB (goal < 2000; "
          f"VmHWM {rss['hwm_mb']:.0f} MB), peak minus post-data baseline {rss['over_data_mb']:.0f} MB, "
          f"panel {rss['seconds']:.1f}s; BENCH reports the total peak")

    t_panel, t_gemm, ratio, recall = panel_over_gemm(*big)
    t_random, _, ratio_random, recall_random = panel_over_gemm(big[0], big[1], 50.0)
    print(f"[N={big[0]} d={big[1]} noise={big[2]} recall@1={recall:.2f}] retrieval_metrics {t_panel:.3f}s vs bare "
          f"Zi @ Zt.T {t_gemm:.3f}s -> ratio {ratio:.2f} (goal <= 1.3)")
    print(f"[N={big[0]} d={big[1]} noise=50 recall@1={recall_random:.3f}] near-chance pairs: retrieval_metrics "
          f"{t_random:.3f}s -> ratio {ratio_random:.2f}")

    tp, tn, speed_big, agree_big, recall = compare_with_naive(*big)
    print(f"[N={big[0]} d={big[1]} recall@1={recall:.2f}] panel {tp:.3f}s vs argsort recall@k {tn:.3f}s -> "
          f"speed-up {speed_big:.1f}x (goal >= 5); recall agrees: {agree_big}")
    tp, tn, speed_small, agree_small, recall = compare_with_naive(*small)
    print(f"[N={small[0]} d={small[1]} recall@1={recall:.2f}] panel {tp:.3f}s vs argsort recall@k {tn:.3f}s -> "
          f"speed-up {speed_small:.1f}x (goal >= 20); recall agrees: {agree_small}")

    print(f"BENCH panel_over_gemm={ratio:.3f} speedup_argsort_d512={speed_big:.2f} "
          f"speedup_argsort_d48={speed_small:.2f} rss_100k_mb={rss['total_mb']:.0f}")


if __name__ == "__main__":
    main()
