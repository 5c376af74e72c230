"""Hubness of cross-modal retrieval, both directions: how unevenly targets occur in the queries'
top-1 and top-k lists (Radovanovic et al. 2010; measures as in Feldbauer & Flexer 2019).

Definitions, for targets' k-occurrence N_k (times a target is in some query's top-k; mean k):
``top1_concentration`` = 1 - H(top-1 counts) / log N (0 = every target top-1 once, 1 = one hub);
``top1_max_share`` = largest top-1 count / N; ``skewness`` = E[(N_k - k)^3] / std^3 (0 if std 0);
``gini`` of N_k; ``robin_hood`` = sum |N_k - k| / (2 sum N_k) (share of occurrences to move for
equality); hubs are targets with N_k >= 2k: ``hub_share`` (fraction of targets) and
``hub_occurrence`` (fraction of all top-k slots they fill); anti-hubs have N_k = 0:
``antihub_share``. Top-k sets come from argpartition per block of queries (ties broken
arbitrarily); top-1 is the argmax (lowest index on equal scores).
"""

from __future__ import annotations

import numpy as np

from mmgate.panel.blocks import capped_rows
from mmgate.panel.replicates import top1_concentration
from mmgate.panel.validate import block_rows, neighbour_count, unit_pair

_SELECT_BYTES = 8 << 20


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values, O(n log n) sorted formula:
    sum_i (2i - n - 1) x_(i) / (n sum x); 0 for equal values, (n - 1) / n for one holder."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.shape[0]
    total = x.sum()
    if total == 0:
        return 0.0
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return float(np.sum((2.0 * ranks - n - 1.0) * x) / (n * total))


def _block_neighbours(queries: np.ndarray, targets: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-1 target and top-k targets of each query in one block. The top-k selection runs on a few
    rows at a time (``_SELECT_BYTES`` of scores), so its index and value copies stay small beside the
    block's scores; the scores are freed on return, so blocks never overlap in memory."""
    n = targets.shape[0]
    scores = queries @ targets.T
    step = max(1, _SELECT_BYTES // (n * scores.itemsize))
    top_k = np.concatenate([np.argpartition(scores[start:start + step], n - k, axis=1)[:, n - k:].copy()
                            for start in range(0, scores.shape[0], step)])
    return scores.argmax(axis=1), top_k


def occurrence_counts(queries: np.ndarray, targets: np.ndarray, k: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-1 counts and k-occurrence counts of each target (unit rows), over blocks of at most
    ``block`` queries, capped so one block's scores fit the panel's block budget
    (``blocks.BLOCK_BYTES``): O(budget + N) memory whatever ``block``, the same counts."""
    top1, k_occ = query_neighbours(queries, targets, k, block)
    return np.bincount(top1, minlength=targets.shape[0]), k_occ


def query_neighbours(queries: np.ndarray, targets: np.ndarray, k: int, block: int) -> tuple[np.ndarray, np.ndarray]:
    """Each query's top-1 target and each target's k-occurrence count, blocked as
    ``occurrence_counts`` (the per-query top-1 lets the concentration be bootstrapped over queries)."""
    n = targets.shape[0]
    rows = capped_rows(block, n, np.result_type(queries, targets).itemsize)
    top1 = np.empty(queries.shape[0], dtype=np.int64)
    k_occ = np.zeros(n, dtype=np.int64)
    for start in range(0, queries.shape[0], rows):
        top, top_k = _block_neighbours(queries[start:start + rows], targets, k)
        top1[start:start + top.shape[0]] = top
        k_occ += np.bincount(top_k.ravel(), minlength=n)
    return top1, k_occ


def occurrence_summary(top1: np.ndarray, k_occ: np.ndarray, k: int,
                       classes: int | None = None) -> dict[str, float]:
    """The hubness measures (see module docstring) of one direction's occurrence counts. The top-1
    concentration is 1 - entropy / log(m), m the most distinct top-1 targets the queries could
    reach: the targets, or fewer queries, or fewer relevance ``classes`` (a canary of ten classes
    asks for ten answers, so ten evenly used targets are not hubs)."""
    n = k_occ.shape[0]
    centred = k_occ - float(k)
    std = float(np.sqrt(np.mean(centred ** 2)))
    hubs = k_occ >= 2 * k
    return {
        "top1_concentration": top1_concentration(top1, n, classes),
        "top1_max_share": float(top1.max() / top1.sum()),
        "skewness": float(np.mean(centred ** 3) / std ** 3) if std > 0 else 0.0,
        "gini": gini(k_occ),
        "robin_hood": float(np.abs(centred).sum() / (2.0 * k_occ.sum())),
        "hub_share": float(hubs.mean()),
        "hub_occurrence": float(k_occ[hubs].sum() / k_occ.sum()),
        "antihub_share": float(np.mean(k_occ == 0)),
    }


def hubness(z_img: object, z_txt: object, k: int = 10, block_size: int | None = None) -> dict[str, float]:
    """Hubness measures of both directions on cosine scores: keys ``i2t_<measure>`` (texts as
    targets of image queries) and ``t2i_<measure>``, plus ``k``; k > N raises InputError."""
    ui, ut = unit_pair(z_img, z_txt)
    n = ui.shape[0]
    k = neighbour_count(k, n)
    block = block_rows(block_size, n, ui.dtype.itemsize, ui.shape[1])
    out: dict[str, float] = {"k": float(k)}
    for direction, queries, targets in (("i2t", ui, ut), ("t2i", ut, ui)):
        summary = occurrence_summary(*occurrence_counts(queries, targets, k, block), k)
        out.update({f"{direction}_{name}": value for name, value in summary.items()})
    return out
