"""Seeded bootstrap replicates of the panel's non-linear statistics (spectra, mean cosine, norm
spread, top-1 concentration), so every gated value can carry an interval.

A resample is a vector of row counts (rows drawn with replacement); each statistic is computed
from the weighted rows exactly as on the resampled matrix, via the smaller Gram side of the
distinct drawn rows. Above ``MAX_DRAWN_ROWS`` rows a resample draws that many (m-out-of-n) and
the replicate deviations are scaled by sqrt(m / n), the rate of every statistic here, so a
100,000-row canary costs what a 4,096-row one does. Intervals are percentile intervals of the
replicates re-centred on the point estimate (the bootstrap's own bias removed: duplicated rows
lower an effective rank and raise a concentration whatever the model).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mmgate.panel.spectra import _exp_entropy, _prepared

MAX_DRAWN_ROWS = 4096
REPLICATE_STREAM = 61


@dataclass(frozen=True)
class Resamples:
    """Row-count vectors of ``count`` seeded resamples of ``n`` rows, and the deviation scale."""

    n: int
    count: int
    seed: int
    stream: int = REPLICATE_STREAM

    @property
    def drawn(self) -> int:
        """Rows drawn per resample (m of m-out-of-n)."""
        return min(self.n, MAX_DRAWN_ROWS)

    @property
    def scale(self) -> float:
        """sqrt(m / n): how a replicate deviation of m rows maps to n rows."""
        return float(np.sqrt(self.drawn / self.n))

    def __iter__(self) -> Iterator[np.ndarray]:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, self.stream]))
        for _ in range(self.count):
            yield np.bincount(rng.integers(0, self.n, size=self.drawn), minlength=self.n)


def interval(point: float, replicates: np.ndarray, alpha: float, scale: float = 1.0,
             low: float | None = None, high: float | None = None) -> tuple[float, float]:
    """Percentile (1 - alpha) interval of the replicates re-centred on ``point`` (deviations times
    ``scale``), clipped to the statistic's range [low, high] where it has one."""
    reps = np.asarray(replicates, dtype=np.float64)
    shifted = point + (reps - reps.mean()) * scale
    lo, hi = (float(v) for v in np.quantile(shifted, [alpha / 2.0, 1.0 - alpha / 2.0]))
    lo, hi = min(lo, point), max(hi, point)
    if low is not None:
        lo, hi = max(lo, low), max(hi, low)
    if high is not None:
        lo, hi = min(lo, high), min(hi, high)
    return lo, hi


def _eigenvalues(x: np.ndarray, total: int, floor: float) -> np.ndarray:
    """Descending eigenvalues of x.T @ x / total (smaller Gram side), the spectra noise floor at 0."""
    n, d = x.shape
    gram = x.T @ x if d <= n else x @ x.T
    lam = np.clip(np.linalg.eigvalsh(gram / total)[::-1], 0.0, None)
    lam[lam <= max(lam[0] * max(total, d) * np.finfo(np.float64).eps, floor)] = 0.0
    return lam


def geometry_replicates(z: np.ndarray, resamples: Resamples) -> dict[str, np.ndarray]:
    """Per resample: mean off-diagonal cosine, minimum coordinate variance, effective rank, RankMe
    share of d and top-direction energy share, as ``panel.geometry`` / ``panel.spectra`` compute them
    on the resampled rows."""
    u, floor = _prepared(z)
    d = u.shape[1]
    out: dict[str, list[float]] = {key: [] for key in
                                   ("mean_cosine", "variance_min", "effective_rank", "rankme_share",
                                    "direction_energy")}
    for counts in resamples:
        keep = counts > 0
        w = counts[keep].astype(np.float64)
        m = int(w.sum())
        x = u[keep]
        mu = w @ x / m
        root = np.sqrt(w)[:, None]
        centred = _eigenvalues(root * (x - mu), m, floor)
        total = centred.sum()
        out["mean_cosine"].append(float(np.clip((m * m * (mu @ mu) - m) / (m * (m - 1)), -1.0, 1.0)))
        out["variance_min"].append(float(np.min(w @ (x - mu) ** 2 / m)))
        out["effective_rank"].append(_exp_entropy(centred))
        out["rankme_share"].append(_exp_entropy(np.sqrt(_eigenvalues(root * x, m, floor))) / d)
        out["direction_energy"].append(float(centred[0] / total) if total > 0 else 1.0)
    return {key: np.asarray(values) for key, values in out.items()}


def norm_cv_replicates(norms: np.ndarray, resamples: Resamples) -> np.ndarray:
    """Per resample: the coefficient of variation (std / mean, ddof=0) of pre-normalisation norms."""
    r = np.asarray(norms, dtype=np.float64)
    out = []
    for counts in resamples:
        m = counts.sum()
        mean = counts @ r / m
        var = max(counts @ (r * r) / m - mean * mean, 0.0)
        out.append(np.sqrt(var) / mean if mean > 0 else np.nan)
    return np.asarray(out)


def concentration_replicates(top1: np.ndarray, n_targets: int, classes: int | None,
                             resamples: Resamples) -> np.ndarray:
    """Per resample of the queries: the top-1 concentration 1 - H(top-1 counts) / log(reachable)
    (``hubness.occurrence_summary``), from each query's top-1 target ``top1``."""
    targets = np.asarray(top1, dtype=np.int64)
    out = []
    for counts in resamples:
        hits = np.bincount(targets, weights=counts, minlength=n_targets)
        out.append(top1_concentration(hits, n_targets, classes))
    return np.asarray(out)


def top1_concentration(hits: np.ndarray, n_targets: int, classes: int | None) -> float:
    """1 - entropy of the top-1 counts / log m, m the most distinct top-1 targets the queries
    could reach (targets, queries or relevance classes, at least 2)."""
    total = float(hits.sum())
    p = hits[hits > 0] / total
    entropy = float(-np.sum(p * np.log(p)))
    reachable = max(2, min(n_targets, int(round(total)), n_targets if classes is None else classes))
    return float(max(0.0, 1.0 - entropy / np.log(reachable)))
