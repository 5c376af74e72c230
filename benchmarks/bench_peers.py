"""The retrieval panel against the tools a user would reach for instead, on the same embeddings:
faiss-cpu's exact ``IndexFlatIP`` (top-10 in both directions) and CLIP_benchmark 1.6.2's recall
(``batchify(recall_at_k, ...)`` as its ``zeroshot_retrieval.evaluate`` calls it, k = 1, 5, 10, both
directions, after its own score product).

Run: ``python benchmarks/bench_peers.py [--n 8192] [--d 512]`` with faiss-cpu and clip-benchmark
installed (``pip install faiss-cpu`` and ``pip install --no-deps clip-benchmark==1.6.2`` beside
torch: see the README's benchmark section). All three work on the same seeded float32 unit rows;
mmgate computes every query's rank and ties in both directions (all of recall@K and MRR), faiss the
ten best candidates per query, CLIP_benchmark three recalls per direction. Best of ``--repeats``
rounds, the three alternating within each round. Last line:
``BENCH panel_over_faiss=<ratio> speedup_vs_clip_benchmark=<ratio>`` (mmgate's time over faiss's,
CLIP_benchmark's over mmgate's).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import faiss
import numpy as np
import torch
from clip_benchmark.metrics.zeroshot_retrieval import batchify, recall_at_k

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pairtiming import alternating_rounds  # noqa: E402  (benchmarks/ is the script's own directory)

from mmgate.panel.retrieval import RetrievalRanks, metrics_from_ranks, retrieval_ranks  # noqa: E402

KS = (1, 5, 10)
CLIP_BENCHMARK_BATCH = 64  # its evaluate()'s default batch_size


NOISE = 5.0  # texts = images + NOISE x noise: recall@1 near 0.6 at N = 8192, d = 512, like CLIP on COCO 5k


def unit_pairs(n: int, d: int, noise: float = NOISE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded float32 unit rows, texts a noisy copy of their images (recall@1 well above chance and
    below 1, so every tool's work includes real competitors within each query's top ranks)."""
    rng = np.random.default_rng(seed)
    zi = rng.standard_normal((n, d), dtype=np.float32)
    zt = zi + noise * rng.standard_normal((n, d), dtype=np.float32)
    return (zi / np.linalg.norm(zi, axis=1, keepdims=True), zt / np.linalg.norm(zt, axis=1, keepdims=True))


def panel(zi: np.ndarray, zt: np.ndarray) -> tuple[RetrievalRanks, dict[str, float]]:
    ranks = retrieval_ranks(zi, zt)
    return ranks, metrics_from_ranks(ranks, KS)


def within_ties(ranks: RetrievalRanks, theirs: dict[str, float]) -> bool:
    """Whether each of CLIP_benchmark's recalls lies between mmgate's pessimistic reading (tied
    candidates ranked first) and its own (ties resolved for the true match, the documented rule):
    ``topk`` orders scores within rounding of each other arbitrarily."""
    for key, value in theirs.items():
        direction, k = key.split("_recall@")
        rank, ties = (ranks.i2t, ranks.i2t_ties) if direction == "i2t" else (ranks.t2i, ranks.t2i_ties)
        if not np.mean(rank + ties < int(k)) - 1e-12 <= value <= np.mean(rank < int(k)) + 1e-12:
            return False
    return True


def faiss_top10(zi: np.ndarray, zt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact inner-product top-10 of every image among the texts and every text among the images."""
    found = []
    for queries, candidates in ((zi, zt), (zt, zi)):
        index = faiss.IndexFlatIP(candidates.shape[1])
        index.add(candidates)
        found.append(index.search(queries, 10)[1])
    return found[0], found[1]


def clip_benchmark(ti: torch.Tensor, tt: torch.Tensor) -> dict[str, float]:
    """CLIP_benchmark's evaluate() from its embeddings on: scores, positive pairs, batchified recall."""
    scores = tt @ ti.t()
    positive = torch.zeros_like(scores, dtype=torch.bool)
    positive[torch.arange(len(scores)), torch.arange(len(scores))] = True
    out = {}
    for k in KS:
        out[f"t2i_recall@{k}"] = (batchify(recall_at_k, scores, positive, CLIP_BENCHMARK_BATCH, "cpu", k=k) > 0).float().mean().item()
        out[f"i2t_recall@{k}"] = (batchify(recall_at_k, scores.T, positive.T, CLIP_BENCHMARK_BATCH, "cpu", k=k) > 0).float().mean().item()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=8192)
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--noise", type=float, default=NOISE)
    args = parser.parse_args()
    zi, zt = unit_pairs(args.n, args.d, args.noise)
    ti, tt = torch.from_numpy(zi), torch.from_numpy(zt)
    runs = {"mmgate": lambda: panel(zi, zt), "faiss": lambda: faiss_top10(zi, zt),
            "clip_benchmark": lambda: clip_benchmark(ti, tt)}
    seconds, results = alternating_rounds(runs, args.repeats)
    (ranks, ours), theirs = results["mmgate"], results["clip_benchmark"]
    differ = sum(round(abs(ours[key] - theirs[key]) * args.n) for key in theirs)
    agree = within_ties(ranks, theirs)
    i2t, t2i = results["faiss"]
    faiss_recall10 = float(np.mean((i2t == np.arange(args.n)[:, None]).any(axis=1)))
    print(f"N={args.n} d={args.d}, best / median / worst of {args.repeats} alternating rounds, "
          f"{torch.get_num_threads()} torch threads, faiss {faiss.__version__}")
    for name, values in seconds.items():
        print(f"{name:15s} {min(values):7.3f} / {np.median(values):7.3f} / {max(values):7.3f} s")
    print(f"recalls within the tie rule of CLIP_benchmark's: {agree} ({differ} query hits differ over the "
          f"six recalls; i2t recall@1 {ours['i2t_recall@1']:.4f}, "
          f"@10 {ours['i2t_recall@10']:.4f}; faiss top-10 hit rate {faiss_recall10:.4f})")
    best = {name: min(values) for name, values in seconds.items()}
    print(f"BENCH panel_over_faiss={best['mmgate'] / best['faiss']:.2f} "
          f"speedup_vs_clip_benchmark={best['clip_benchmark'] / best['mmgate']:.1f}")


if __name__ == "__main__":
    main()
