"""Seeded percentile bootstrap over queries, vectorised: resamples are drawn as index matrices in
chunks; means come from per-resample count vectors times the data (one matrix product)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from mmgate.errors import ConfigError, InputError
from mmgate.panel.retrieval import RetrievalRanks
from mmgate.panel.validate import config_int, cutoffs, probability, real_array

_BOOT_STREAM = 51
_CELLS_PER_CHUNK = 1 << 22
_STATISTICS = ("mean", "median")


def _resamples(n: int, n_boot: int, seed: int, stream: int = _BOOT_STREAM) -> Iterator[np.ndarray]:
    """Index matrices (chunk, n) of resamples with replacement; the same seed gives the same draws."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, stream]))
    chunk = max(1, _CELLS_PER_CHUNK // n)
    for start in range(0, n_boot, chunk):
        yield rng.integers(0, n, size=(min(chunk, n_boot - start), n))


def _resample_means(columns: np.ndarray, n_boot: int, seed: int, stream: int = _BOOT_STREAM) -> np.ndarray:
    """Bootstrap replicate means (n_boot, m) of each column of ``columns`` (N, m)."""
    n = columns.shape[0]
    out = []
    for idx in _resamples(n, n_boot, seed, stream):
        size = idx.shape[0]
        idx += np.arange(0, size * n, n)[:, None]  # in place: resample r counts in cells r * n + i
        counts = np.bincount(idx.ravel(), minlength=size * n)
        del idx  # at most two chunk-sized arrays live at once: the counts and their float64 copy
        out.append(counts.reshape(size, n).astype(np.float64) @ columns / n)
    return np.concatenate(out, axis=0)


def _check_common(n_boot: int, alpha: float, seed: int) -> tuple[int, float, int]:
    return config_int(n_boot, "n_boot", 1), probability(alpha, "alpha"), config_int(seed, "seed", 0)


def bootstrap_ci(values: object, n_boot: int = 1000, alpha: float = 0.05, seed: int = 0,
                 statistic: str = "mean") -> tuple[float, float]:
    """Percentile (1 - alpha) interval of ``statistic`` ("mean" or "median") of 1-D per-query
    values (real or bool, e.g. hit/miss) over ``n_boot`` seeded resamples of the queries."""
    n_boot, alpha, seed = _check_common(n_boot, alpha, seed)
    if statistic not in _STATISTICS:
        raise ConfigError(f"statistic must be one of {_STATISTICS}; got {statistic!r}")
    raw = np.asarray(values)
    arr = (raw if raw.dtype.kind == "b" else real_array(raw, "values")).astype(np.float64)
    if arr.ndim != 1 or arr.shape[0] < 1:
        raise InputError(f"values must be a non-empty 1-D array of per-query values; got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError("values contain non-finite values (NaN or Inf)")
    if statistic == "mean":
        reps = _resample_means(arr[:, None], n_boot, seed)[:, 0]
    else:
        reps = np.concatenate([np.median(arr[idx], axis=1) for idx in _resamples(arr.shape[0], n_boot, seed)])
    lo, hi = np.quantile(reps, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def difference_ci(first: object, second: object, n_boot: int = 1000, alpha: float = 0.05,
                  seed: int = 0) -> tuple[float, float]:
    """Percentile (1 - alpha) interval of mean(first) - mean(second) for two independent samples of
    per-query values (e.g. image and text queries over unique items, whose counts differ), each
    resampled on its own seeded stream."""
    n_boot, alpha, seed = _check_common(n_boot, alpha, seed)
    means = []
    for stream, values in ((_BOOT_STREAM, first), (_BOOT_STREAM + 1, second)):
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 1 or arr.shape[0] < 1 or not np.isfinite(arr).all():
            raise InputError(f"values must be non-empty 1-D finite per-query values; got shape {arr.shape}")
        means.append(_resample_means(arr[:, None], n_boot, seed, stream)[:, 0])
    lo, hi = np.quantile(means[0] - means[1], [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def retrieval_cis(ranks: RetrievalRanks, ks: int | Iterable[int] = (1, 5, 10), n_boot: int = 1000,
                  alpha: float = 0.05, seed: int = 0) -> dict[str, tuple[float, float]]:
    """Percentile intervals for every key of ``retrieval_metrics`` (recall@K, MRR, symmetry gap@K),
    resampling pairs jointly so both directions and their gap share each resample."""
    n_boot, alpha, seed = _check_common(n_boot, alpha, seed)
    ks = cutoffs(ks, ranks.n)
    names, columns = [], []
    for k in ks:
        names += [f"i2t_recall@{k}", f"t2i_recall@{k}"]
        columns += [ranks.i2t < k, ranks.t2i < k]
    names += ["i2t_mrr", "t2i_mrr"]
    columns += [1.0 / (ranks.i2t + 1.0), 1.0 / (ranks.t2i + 1.0)]
    for k in ks:
        names.append(f"symmetry_gap@{k}")
        columns.append((ranks.i2t < k).astype(np.float64) - (ranks.t2i < k))
    reps = _resample_means(np.column_stack(columns).astype(np.float64), n_boot, seed)
    bounds = np.quantile(reps, [alpha / 2.0, 1.0 - alpha / 2.0], axis=0)
    return {name: (float(bounds[0, i]), float(bounds[1, i])) for i, name in enumerate(names)}
