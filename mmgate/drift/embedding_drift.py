"""Embedding drift between a reference and a new sample of embeddings: centroid shift, a Gaussian-
kernel MMD² permutation test, per-dimension Kolmogorov-Smirnov tests with Benjamini-Hochberg control
and a cross-validated domain classifier, each reporting an effect size next to its p-value, because
with thousands of rows a negligible shift is still "significant".

Pure numpy and seeded: every random step draws from ``np.random.default_rng(SeedSequence([seed,
STREAM]))`` with one stream per component, so the same inputs and seed give the same numbers.

MMD² permutation test: the pooled kernel matrix K is computed once. A permutation is an assignment
of the pooled rows to the two groups; with w = x / n_x - y / n_y (x, y the 0/1 group indicators)
the biased statistic is V = wᵀ K w, and with a = xᵀ (K 1) and the known total sum of K the three
block sums S_xx, S_xy, S_yy follow exactly, hence the unbiased statistic with its diagonal removed.
A batch of B permutations is one (B, n) @ (n, n) product, so all permutations together cost one
(permutations, n) @ (n, n) product and memory stays at K plus two (B, n) arrays. Because w sums to
zero the product's partial sums stay small, which keeps float32 accumulation accurate (measured at
5,000 + 5,000 rows: float32 and float64 statistics differ by under 1e-4 of the null's spread).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from mmgate.errors import InputError
from mmgate.panel.validate import (
    compute_dtype,
    config_int,
    embedding_matrix,
    positive_real,
    probability,
    unit_rows,
)

MIN_ROWS = 5
_BANDWIDTH_STREAM = 5101
_PERMUTATION_STREAM = 5102
_FOLD_STREAM = 5103
_BATCH_BYTES = 32 << 20
_AUGMENTED_MAX_DIM = 64
_KOLMOGOROV_TERMS = np.arange(1, 101, dtype=np.float64)


def _sample(z: object, name: str) -> np.ndarray:
    """``z`` as validated (N, d) finite real rows with N >= MIN_ROWS."""
    arr = embedding_matrix(z, name)
    if arr.shape[0] < MIN_ROWS:
        raise InputError(f"{name} needs at least {MIN_ROWS} rows to compare distributions; got N={arr.shape[0]}")
    return arr


def _samples(ref: object, new: object, ref_name: str = "ref", new_name: str = "new") -> tuple[np.ndarray, np.ndarray]:
    """Validated reference and new samples with the same dimension d."""
    x, y = _sample(ref, ref_name), _sample(new, new_name)
    if x.shape[1] != y.shape[1]:
        raise InputError(f"dimension mismatch: {ref_name} has d={x.shape[1]} columns but {new_name} has "
                         f"d={y.shape[1]}; both samples must live in the same embedding space")
    return x, y


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([config_int(seed, "seed", 0), stream]))


def centroid_shift(ref: object, new: object) -> dict[str, float]:
    """Distance between the centroids of the L2-normalised rows, raw and in units of the reference's
    per-item spread (RMS distance of a reference row to its centroid), plus the centroids' cosine.

    ``effect_size`` = ``shift / ref_spread``; with no drift it is about sqrt(1/n_ref + 1/n_new).
    A reference of identical rows has no spread: its effect size is then 0.0 without a shift and
    1.0 with one. ``cosine`` is 0.0 when either centroid is the zero vector."""
    x, y = _samples(ref, new)
    ux, uy = unit_rows(x, "ref", np.float64), unit_rows(y, "new", np.float64)
    cx, cy = ux.mean(axis=0), uy.mean(axis=0)
    norm_x, norm_y = float(np.linalg.norm(cx)), float(np.linalg.norm(cy))
    shift = float(np.linalg.norm(cy - cx))
    spread = float(np.sqrt(np.mean(np.einsum("ij,ij->i", ux - cx, ux - cx))))
    cosine = float(np.clip(cx @ cy / (norm_x * norm_y), -1.0, 1.0)) if norm_x > 0 and norm_y > 0 else 0.0
    return {"shift": shift, "ref_spread": spread, "effect_size": shift / spread if spread > 0 else float(shift > 0),
            "cosine": cosine, "ref_centroid_norm": norm_x, "new_centroid_norm": norm_y}


def _median_sq_distance(rows: np.ndarray) -> float:
    """Median squared Euclidean distance over all pairs i < j of ``rows`` (float64); 0 if all equal;
    the median of the positive distances when more than half the pairs are duplicates."""
    centred = rows - rows.mean(axis=0)
    sq = np.einsum("ij,ij->i", centred, centred)
    dist = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (centred @ centred.T), 0.0)
    pairs = dist[np.triu_indices(rows.shape[0], k=1)]
    median = float(np.median(pairs))
    if median > 0:
        return median
    positive = pairs[pairs > 0]
    return float(np.median(positive)) if positive.size else 0.0


def median_bandwidth(x: object, y: object, seed: int = 0, subsample: int = 1000) -> float:
    """Gaussian-kernel bandwidth sigma by the median heuristic: sigma = sqrt(median ||a - b||² / 2)
    over the pairs of a seeded subsample of at most ``subsample`` pooled rows, so that the kernel
    exp(-||a - b||² / (2 sigma²)) is exp(-1) at the median distance.

    Never 0: when most pairs are duplicates the median of the positive squared distances is used,
    and when every row is identical (any bandwidth gives the same all-ones kernel) it returns 1.0."""
    xs, ys = _samples(x, y, "x", "y")
    size = config_int(subsample, "subsample", 2)
    pooled = np.concatenate([xs, ys]).astype(np.float64)
    if pooled.shape[0] > size:
        pick = np.sort(_rng(seed, _BANDWIDTH_STREAM).choice(pooled.shape[0], size=size, replace=False))
        pooled = pooled[pick]
    median = _median_sq_distance(pooled)
    return float(np.sqrt(median / 2.0)) if median > 0 else 1.0


@dataclass(frozen=True)
class MMDResult:
    """Outcome of the MMD² permutation test.

    ``mmd2``: unbiased MMD² of the Gaussian kernel; ``p_value``: (1 + #{perm >= observed}) /
    (1 + permutations); ``mmd``: sqrt(max(mmd2, 0)); ``relative_mmd``: ``mmd`` over the RKHS norm of
    the reference mean embedding, sqrt(mean off-diagonal reference kernel), a scale-free effect size
    (0 for no drift, about sqrt(2) for disjoint clouds)."""

    mmd2: float
    p_value: float
    mmd: float
    relative_mmd: float
    bandwidth: float
    n_ref: int
    n_new: int
    permutations: int
    kernel_dtype: str

    def to_dict(self) -> dict[str, float | int | str]:
        """JSON-ready plain values."""
        return asdict(self)


def _gaussian_kernel(pooled: np.ndarray, bandwidth: float, dtype: np.dtype) -> np.ndarray:
    """Pooled Gaussian kernel exp(-(|a|² + |b|² - 2 a·b) / (2 sigma²)) in ``dtype`` with unit diagonal.

    Rows are centred first (distances unchanged, less cancellation). Up to 64 columns one
    (d + 2)-column product yields every exponent at once (the product is memory-bound there);
    above, the symmetric product of the scaled rows (half the flops) is followed by subtracting the
    squared norms. Exponents are clipped at 0 against rounding and exponentiated in place."""
    centred = pooled.astype(np.float64)
    centred -= centred.mean(axis=0)
    gamma = 1.0 / (2.0 * bandwidth * bandwidth)
    sq = gamma * np.einsum("ij,ij->i", centred, centred)
    scaled = np.sqrt(2.0 * gamma) * centred
    if centred.shape[1] <= _AUGMENTED_MAX_DIM:
        ones = np.ones((pooled.shape[0], 1))
        left = np.hstack([scaled, -sq[:, None], ones]).astype(dtype)
        right = np.hstack([scaled, ones, -sq[:, None]]).astype(dtype)
        kernel = left @ right.T
    else:
        rows = scaled.astype(dtype)
        kernel = rows @ rows.T
        sq_cast = sq.astype(dtype)
        kernel -= sq_cast[:, None]
        kernel -= sq_cast[None, :]
    np.minimum(kernel, 0.0, out=kernel)
    np.exp(kernel, out=kernel)
    np.fill_diagonal(kernel, 1.0)
    return kernel


def permutation_splits(n_ref: int, n_new: int, permutations: int, seed: int = 0) -> np.ndarray:
    """(1 + permutations, n_ref + n_new) bool group-membership rows of the pooled [ref; new] rows:
    row 0 is the observed split (the first ``n_ref`` rows), then one uniformly random split of
    ``n_ref`` rows per permutation, drawn from the permutation stream of ``seed``."""
    n_x, n_y = config_int(n_ref, "n_ref", 2), config_int(n_new, "n_new", 2)
    perms = config_int(permutations, "permutations", 1)
    rng = _rng(seed, _PERMUTATION_STREAM)
    member = np.zeros((1 + perms, n_x + n_y), dtype=bool)
    member[0, :n_x] = True
    for row in range(1, perms + 1):
        member[row, rng.permutation(n_x + n_y)[:n_x]] = True
    return member


def _block_sums_to_mmd2(v: np.ndarray, a: np.ndarray, total: float, n_x: int, n_y: int) -> tuple[np.ndarray, ...]:
    """Unbiased MMD² (and the within-x mean kernel) from V = wᵀKw, a = xᵀ(K1) and sum(K), for a
    kernel with unit diagonal: S_xy = (a/n_x² + b/n_y² - V) / (1/n_x + 1/n_y)² with b = sum(K) - a."""
    b = total - a
    s_xy = (a / n_x**2 + b / n_y**2 - v) / (1.0 / n_x + 1.0 / n_y) ** 2
    k_xx = (a - s_xy - n_x) / (n_x * (n_x - 1))
    k_yy = (b - s_xy - n_y) / (n_y * (n_y - 1))
    return k_xx + k_yy - 2.0 * s_xy / (n_x * n_y), k_xx


def _kernel_statistics(kernel: np.ndarray, splits: np.ndarray, n_x: int, batch: int) -> tuple[np.ndarray, float]:
    """Unbiased MMD² of every split row (batched products with K) and the within-x mean kernel of
    row 0."""
    n_y = kernel.shape[0] - n_x
    row_sums = kernel.sum(axis=1, dtype=np.float64)
    total = float(row_sums.sum())
    stats = np.empty(splits.shape[0])
    k_xx_first = 0.0
    for start in range(0, splits.shape[0], batch):
        chunk = splits[start:start + batch]
        weights = np.where(chunk, 1.0 / n_x, -1.0 / n_y).astype(kernel.dtype)
        product = weights @ kernel
        v = np.einsum("bj,bj->b", product.astype(np.float64), weights.astype(np.float64))
        mmd2, k_xx = _block_sums_to_mmd2(v, chunk @ row_sums, total, n_x, n_y)
        stats[start:start + batch] = mmd2
        if start == 0:
            k_xx_first = float(k_xx[0])
    return stats, k_xx_first


def _batch_rows(batch_size: int | None, n: int, dtype: np.dtype) -> int:
    if batch_size is None:
        return max(1, _BATCH_BYTES // (dtype.itemsize * n))
    return config_int(batch_size, "batch_size", 1)


def _kernel_dtype(x: np.ndarray, y: np.ndarray) -> np.dtype:
    return np.promote_types(compute_dtype(x.dtype), compute_dtype(y.dtype))


def mmd2_statistics(ref: object, new: object, splits: object, bandwidth: float, *,
                    batch_size: int | None = None) -> np.ndarray:
    """Unbiased Gaussian-kernel MMD² of each split of the pooled [ref; new] rows (``splits``: bool
    rows of length n_ref + n_new with n_ref True entries, True = the ref group), from one pooled
    kernel and ``batch_size`` splits per matrix product; what ``mmd2_test`` uses."""
    x, y = _samples(ref, new)
    member = np.asarray(splits)
    n = x.shape[0] + y.shape[0]
    if member.dtype != bool or member.ndim != 2 or member.shape[1] != n:
        raise InputError(f"splits must be a 2-D bool array with {n} columns (n_ref + n_new); "
                         f"got dtype {member.dtype} and shape {member.shape}")
    if np.any(member.sum(axis=1) != x.shape[0]):
        raise InputError(f"every row of splits must mark exactly n_ref={x.shape[0]} rows as the ref group")
    dtype = _kernel_dtype(x, y)
    kernel = _gaussian_kernel(np.concatenate([x, y]), positive_real(bandwidth, "bandwidth"), dtype)
    return _kernel_statistics(kernel, member, x.shape[0], _batch_rows(batch_size, n, dtype))[0]


def mmd2_test(ref: object, new: object, *, permutations: int = 200, seed: int = 0, bandwidth: float | None = None,
              batch_size: int | None = None) -> MMDResult:
    """Gaussian-kernel unbiased MMD² between the rows of ``ref`` and ``new`` with a permutation p-value
    over ``permutation_splits(n_ref, n_new, permutations, seed)``.

    The pooled kernel is computed once, in float32 for float16/float32 input (float64 otherwise), and
    all permutations are evaluated in batches of ``batch_size`` as matrix products with it (default:
    about 32 MB of weights per batch). ``bandwidth`` defaults to ``median_bandwidth(ref, new, seed)``.
    Permuted statistics within 16 rounding units of the observed one count as ties (>=)."""
    x, y = _samples(ref, new)
    splits = permutation_splits(x.shape[0], y.shape[0], permutations, seed)
    sigma = median_bandwidth(x, y, seed) if bandwidth is None else positive_real(bandwidth, "bandwidth")
    dtype = _kernel_dtype(x, y)
    n_x, n_y = x.shape[0], y.shape[0]
    kernel = _gaussian_kernel(np.concatenate([x, y]), sigma, dtype)
    stats, k_xx = _kernel_statistics(kernel, splits, n_x, _batch_rows(batch_size, n_x + n_y, dtype))
    observed = float(stats[0])
    tie = 16.0 * float(np.finfo(dtype).eps) * (abs(observed) + 1.0 / n_x + 1.0 / n_y)
    exceed = int(np.count_nonzero(stats[1:] >= observed - tie))
    perms = splits.shape[0] - 1
    mmd = float(np.sqrt(max(observed, 0.0)))
    return MMDResult(mmd2=observed, p_value=(1.0 + exceed) / (1.0 + perms), mmd=mmd,
                     relative_mmd=mmd / float(np.sqrt(k_xx)) if k_xx > 0 else float(mmd > 0), bandwidth=sigma,
                     n_ref=n_x, n_new=n_y, permutations=perms, kernel_dtype=str(dtype))


def kolmogorov_sf(lam: object) -> np.ndarray:
    """Survival function Q(lambda) = P(K > lambda) of the Kolmogorov distribution, the asymptotic law
    of sqrt(n_e) D: 2 sum_k (-1)^(k-1) exp(-2 k² lambda²) for lambda >= 1.18, and the equivalent
    1 - sqrt(2 pi) / lambda sum_k exp(-(2k-1)² pi² / (8 lambda²)) below it (100 terms each)."""
    shape = np.shape(lam)
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64)).ravel()
    out = np.ones_like(lam)
    large = lam >= 1.18
    if large.any():
        k = _KOLMOGOROV_TERMS[:, None]
        signs = np.where(k % 2 == 1, 1.0, -1.0)
        out[large] = 2.0 * np.sum(signs * np.exp(-2.0 * k * k * lam[large] ** 2), axis=0)
    small = (lam > 0) & ~large
    if small.any():
        odd = (2.0 * _KOLMOGOROV_TERMS - 1.0)[:, None]
        series = np.sum(np.exp(-(odd * odd) * np.pi**2 / (8.0 * lam[small] ** 2)), axis=0)
        out[small] = 1.0 - np.sqrt(2.0 * np.pi) / lam[small] * series
    return np.clip(out, 0.0, 1.0).reshape(shape)


def benjamini_hochberg(p_values: object, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg step-up: adjusted p-values min_{j >= i} (m / j) p_(j) (capped at 1) and the
    rejections (adjusted <= ``alpha``), which control the false discovery rate at ``alpha``."""
    level = probability(alpha, "alpha")
    p = np.asarray(p_values, dtype=np.float64).ravel()
    if p.size == 0 or not np.all((p >= 0.0) & (p <= 1.0)):
        raise InputError("p_values must be a non-empty array of numbers in [0, 1]")
    order = np.argsort(p, kind="stable")
    scaled = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return adjusted, adjusted <= level


def _ks_statistics(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Two-sample KS statistic sup |F_x - F_y| of every column, exact (integer ECDF steps, ties
    evaluated only at the end of each run of equal values)."""
    n_x, n_y = x.shape[0], y.shape[0]
    pooled = np.concatenate([x, y]).T.astype(np.float64, order="C")
    order = np.argsort(pooled, axis=1, kind="stable")
    values = np.take_along_axis(pooled, order, axis=1)
    steps = np.where(order < n_x, n_y, -n_x).astype(np.int64)
    gaps = np.abs(np.cumsum(steps, axis=1))
    run_end = np.ones_like(values, dtype=bool)
    run_end[:, :-1] = values[:, 1:] != values[:, :-1]
    return np.max(np.where(run_end, gaps, 0), axis=1) / (n_x * n_y)


def ks_per_dimension(ref: object, new: object, *, alpha: float = 0.05) -> dict[str, object]:
    """Two-sample Kolmogorov-Smirnov test of every dimension, Benjamini-Hochberg adjusted across them.

    p-values are asymptotic: Q((sqrt(n_e) + 0.12 + 0.11 / sqrt(n_e)) D) with n_e = n_x n_y / (n_x + n_y)
    (Stephens' small-sample correction; no exact small-sample distribution). ``max_statistic`` (the
    largest D, a difference of two CDFs in [0, 1]) is the effect size."""
    x, y = _samples(ref, new)
    level = probability(alpha, "alpha")
    stats = _ks_statistics(x, y)
    n_e = x.shape[0] * y.shape[0] / (x.shape[0] + y.shape[0])
    p = kolmogorov_sf((np.sqrt(n_e) + 0.12 + 0.11 / np.sqrt(n_e)) * stats)
    adjusted, rejected = benjamini_hochberg(p, level)
    top = int(np.argmax(stats))
    return {"statistics": stats.tolist(), "p_values": p.tolist(), "adjusted_p_values": adjusted.tolist(),
            "rejected_dimensions": np.flatnonzero(rejected).tolist(), "n_rejected": int(rejected.sum()),
            "fraction_rejected": float(rejected.mean()), "max_statistic": float(stats[top]), "max_dimension": top,
            "min_adjusted_p_value": float(adjusted.min()), "alpha": level, "n_dimensions": int(stats.size),
            "p_value_method": "asymptotic Kolmogorov distribution with Stephens' correction"}


def _logistic_loss(features: np.ndarray, labels: np.ndarray, w: np.ndarray, l2: float) -> float:
    scores = features @ w
    return float(np.mean(np.logaddexp(0.0, scores) - labels * scores) + 0.5 * l2 * (w[1:] @ w[1:]))


def _line_search(features: np.ndarray, labels: np.ndarray, w: np.ndarray, direction: np.ndarray, l2: float,
                 loss: float) -> tuple[np.ndarray, float] | None:
    """First of the steps 1, 1/2, 1/4, ... (down to 2^-20) along ``-direction`` that does not raise
    the loss, or None when none does (converged to rounding)."""
    for halvings in range(21):
        trial = w - direction / 2.0**halvings
        trial_loss = _logistic_loss(features, labels, trial, l2)
        if trial_loss <= loss:
            return trial, trial_loss
    return None


def _fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float, steps: int) -> np.ndarray:
    """L2-penalised logistic regression (intercept in column 0, not penalised) by damped Newton steps:
    deterministic and converged in a handful of steps."""
    n, p = features.shape
    penalty = np.full(p, l2)
    penalty[0] = 0.0
    w = np.zeros(p)
    loss = _logistic_loss(features, labels, w, l2)
    for _ in range(steps):
        prob = np.exp(-np.logaddexp(0.0, -(features @ w)))
        grad = features.T @ (prob - labels) / n + penalty * w
        root_weighted = features * np.sqrt(prob * (1.0 - prob))[:, None]
        hessian = root_weighted.T @ root_weighted / n + np.diag(penalty + 1e-12)
        found = _line_search(features, labels, w, np.linalg.solve(hessian, grad), l2, loss)
        if found is None:
            break
        decrease = loss - found[1]
        w, loss = found
        if decrease < 1e-12:
            break
    return w


def _standardised(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sets scaled by the training columns' mean and std (std 0 -> 1), with a leading 1 column."""
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std == 0] = 1.0

    def design(rows: np.ndarray) -> np.ndarray:
        return np.hstack([np.ones((rows.shape[0], 1)), (rows - mean) / std])

    return design(train), design(test)


def average_ranks(values: object) -> np.ndarray:
    """1-based ranks of ``values`` with ties given the average of the ranks they span."""
    v = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(v, kind="stable")
    sorted_v = v[order]
    starts = np.flatnonzero(np.r_[True, sorted_v[1:] != sorted_v[:-1]])
    ends = np.r_[starts[1:], v.size]
    ranks = np.empty(v.size)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def rank_auc(scores: object, labels: object) -> float:
    """Area under the ROC curve of ``scores`` for the positive (True) labels, from average ranks
    (Mann-Whitney U / (n_pos n_neg)): 0.5 for uninformative scores, ties counted as half."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    positive = np.asarray(labels, dtype=bool).ravel()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if s.size != positive.size or n_pos == 0 or n_neg == 0:
        raise InputError("rank_auc needs one label per score and at least one positive and one negative")
    ranks = average_ranks(s)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def domain_classifier_auc(ref: object, new: object, *, seed: int = 0, folds: int = 5, l2: float = 1e-2,
                          steps: int = 25) -> dict[str, object]:
    """Out-of-fold ROC AUC of an L2-penalised logistic regression trained to tell ``new`` rows from
    ``ref`` rows (stratified, seeded folds; features standardised on each training fold).

    About 0.5 (slightly below, the usual cross-validation bias) when both come from one distribution,
    1 for separable clouds. ``advantage`` = 2 AUC - 1 is the effect size."""
    x, y = _samples(ref, new)
    k = config_int(folds, "folds", 2)
    if k > min(x.shape[0], y.shape[0]):
        raise InputError(f"folds={k} exceeds the rows of the smaller sample ({min(x.shape[0], y.shape[0])}); "
                         "every fold needs rows of both samples")
    penalty = positive_real(l2, "l2")
    max_steps = config_int(steps, "steps", 1)
    rows = np.concatenate([x, y]).astype(np.float64)
    labels = np.r_[np.zeros(x.shape[0]), np.ones(y.shape[0])]
    rng = _rng(seed, _FOLD_STREAM)
    fold_of = np.empty(rows.shape[0], dtype=np.int64)
    for members in (np.arange(x.shape[0]), x.shape[0] + np.arange(y.shape[0])):
        fold_of[rng.permutation(members)] = np.arange(members.size) % k
    scores = np.empty(rows.shape[0])
    fold_aucs = []
    for fold in range(k):
        test = fold_of == fold
        train_x, test_x = _standardised(rows[~test], rows[test])
        w = _fit_logistic(train_x, labels[~test], penalty, max_steps)
        scores[test] = test_x @ w
        fold_aucs.append(rank_auc(scores[test], labels[test] > 0))
    auc = rank_auc(scores, labels > 0)
    return {"auc": auc, "advantage": 2.0 * auc - 1.0, "fold_aucs": fold_aucs, "folds": k, "l2": penalty,
            "n_ref": int(x.shape[0]), "n_new": int(y.shape[0])}


def _drift(ux: np.ndarray, uy: np.ndarray, seed: int, permutations: int) -> dict[str, object]:
    return {"n_ref": int(ux.shape[0]), "n_new": int(uy.shape[0]), "dim": int(ux.shape[1]),
            "centroid": centroid_shift(ux, uy),
            "mmd": mmd2_test(ux, uy, permutations=permutations, seed=seed).to_dict(),
            "ks": ks_per_dimension(ux, uy),
            "classifier": domain_classifier_auc(ux, uy, seed=seed)}


def embedding_drift(ref: object, new: object, *, seed: int = 0, permutations: int = 200) -> dict[str, object]:
    """Every drift statistic of this module on the L2-normalised rows (the cosine geometry the model's
    scores use; raw norm drift is not seen here), as one JSON-ready dict with effect sizes next to
    p-values: ``centroid``, ``mmd``, ``ks``, ``classifier``."""
    x, y = _samples(ref, new)
    return _drift(unit_rows(x, "ref"), unit_rows(y, "new"), seed, permutations)


def _joint_rows(img: np.ndarray, txt: np.ndarray, img_name: str, txt_name: str) -> np.ndarray:
    """Row-paired [img, txt] with each half L2-normalised and the row scaled to unit norm."""
    if img.shape[0] != txt.shape[0]:
        raise InputError(f"shape mismatch: {img_name} has N={img.shape[0]} rows but {txt_name} has "
                         f"N={txt.shape[0]}; pairs are matched by row")
    dtype = np.promote_types(compute_dtype(img.dtype), compute_dtype(txt.dtype))
    return np.hstack([unit_rows(img, img_name, dtype), unit_rows(txt, txt_name, dtype)]) / dtype.type(np.sqrt(2.0))


def joint_pair_drift(ref_img: object, ref_txt: object, new_img: object, new_txt: object, *, seed: int = 0,
                     permutations: int = 200) -> dict[str, object]:
    """``embedding_drift`` per modality (``image``, ``text``) and on the ``joint`` pair rows (the
    normalised image and text halves side by side), which also sees drift in how pairs co-vary."""
    ri, ni = _samples(ref_img, new_img, "ref_img", "new_img")
    rt, nt = _samples(ref_txt, new_txt, "ref_txt", "new_txt")
    joint_ref, joint_new = _joint_rows(ri, rt, "ref_img", "ref_txt"), _joint_rows(ni, nt, "new_img", "new_txt")
    return {"image": _drift(unit_rows(ri, "ref_img"), unit_rows(ni, "new_img"), seed, permutations),
            "text": _drift(unit_rows(rt, "ref_txt"), unit_rows(nt, "new_txt"), seed, permutations),
            "joint": _drift(joint_ref, joint_new, seed, permutations)}
