"""Histogram divergences on shared bin edges: Jensen-Shannon (bits, bounded) and smoothed KL (bits).

Histograms of two samples are only comparable when both are binned on the same edges, so the edges
come from the samples being compared together (``shared_edges``), never from each sample alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mmgate.errors import ConfigError, InputError

_LN2 = math.log(2.0)
# Relative width given to edges whose samples span (almost) nothing, so every edge is distinct.
_MIN_RELATIVE_SPAN = 1e-6


def _finite_vector(x: object, name: str) -> np.ndarray:
    """``x`` as a non-empty 1-D float64 array of finite real numbers."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "fiu":
        raise InputError(f"{name} must hold real numbers; got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise InputError(f"{name} must be 1-D; got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"{name} must not be empty")
    out = arr.astype(np.float64)
    if not np.isfinite(out).all():
        raise InputError(f"{name} contains non-finite values (NaN or Inf)")
    return out


def _probabilities(x: object, name: str) -> np.ndarray:
    """Non-negative weights ``x`` normalised to sum 1 (counts and probabilities both work)."""
    w = _finite_vector(x, name)
    if (w < 0).any():
        raise InputError(f"{name} must be non-negative; got minimum {w.min()!r}")
    top = w.max()
    if top == 0:
        raise InputError(f"{name} must have positive total mass; got all zeros")
    w = w / top
    return w / w.sum()


def _pair(p: object, q: object) -> tuple[np.ndarray, np.ndarray]:
    pp, qq = _probabilities(p, "p"), _probabilities(q, "q")
    if pp.shape != qq.shape:
        raise InputError(f"p and q must have the same number of bins; got {pp.size} and {qq.size}")
    return pp, qq


def shared_edges(*samples: Sequence[float] | np.ndarray, bins: int = 10) -> np.ndarray:
    """``bins + 1`` equal-width edges spanning every sample together, so their histograms compare.

    A span of (almost) zero is widened symmetrically so the edges stay strictly increasing."""
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ConfigError(f"bins must be an integer >= 1; got {bins!r}")
    if not samples:
        raise InputError("shared_edges needs at least one sample")
    values = [_finite_vector(s, f"samples[{i}]") for i, s in enumerate(samples)]
    lo = min(float(v.min()) for v in values)
    hi = max(float(v.max()) for v in values)
    t = np.linspace(0.0, 1.0, int(bins) + 1)
    edges = lo * (1.0 - t) + hi * t
    if not (np.diff(edges) > 0).all():
        mid = lo / 2.0 + hi / 2.0
        half = max(hi - lo, max(abs(lo), abs(hi), 1.0) * _MIN_RELATIVE_SPAN) / 2.0
        edges = (mid - half) * (1.0 - t) + (mid + half) * t
    return edges


def histogram(values: Sequence[float] | np.ndarray, edges: Sequence[float] | np.ndarray) -> np.ndarray:
    """Probability of each bin of ``edges`` (sums to 1); values outside the edges count in the outer bins."""
    v = _finite_vector(values, "values")
    e = _finite_vector(edges, "edges")
    if e.size < 2 or not (np.diff(e) > 0).all():
        raise InputError(f"edges must be at least 2 strictly increasing values; got {e.tolist()}")
    counts, _ = np.histogram(np.clip(v, e[0], e[-1]), bins=e)
    return counts / v.size


def _xlog1px(r: np.ndarray) -> np.ndarray:
    """(1 + r) * log(1 + r) for r in [-1, 1], taking the limit 0 at r = -1."""
    out = np.zeros_like(r)
    inside = r > -1.0
    out[inside] = (1.0 + r[inside]) * np.log1p(r[inside])
    return out


def js_divergence(p: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray) -> float:
    """Jensen-Shannon divergence in bits, in [0, 1]: 0 exactly for equal histograms, 1 for disjoint ones.

    ``p`` and ``q`` are non-negative weights over the same bins, each normalised to sum 1. Each bin
    contributes s/4 * [(1+r) log(1+r) + (1-r) log(1-r)] / ln 2 with s = p+q and r = (p-q)/s, a
    non-negative form that stays accurate for nearly equal histograms."""
    pp, qq = _pair(p, q)
    s = pp + qq
    live = s > 0
    s = s[live]
    r = (pp[live] - qq[live]) / s
    per_bin = s / 4.0 * (_xlog1px(r) + _xlog1px(-r))
    per_bin = np.maximum(per_bin, 0.0)
    return float(min(max(per_bin.sum() / _LN2, 0.0), 1.0))


def kl_divergence(p: Sequence[float] | np.ndarray, q: Sequence[float] | np.ndarray, smoothing: float = 1e-6) -> float:
    """KL(p || q) in bits, after adding ``smoothing`` to every bin of both normalised histograms.

    With ``smoothing=0`` a bin where q is zero and p is not makes KL infinite, which raises."""
    if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float, np.floating, np.integer)) \
            or not math.isfinite(smoothing) or smoothing < 0:
        raise ConfigError(f"smoothing must be a finite number >= 0; got {smoothing!r}")
    pp, qq = _pair(p, q)
    pp = (pp + smoothing) / (1.0 + smoothing * pp.size)
    qq = (qq + smoothing) / (1.0 + smoothing * qq.size)
    support = pp > 0
    if (qq[support] == 0).any():
        raise InputError("q is zero where p is positive, so KL(p || q) is infinite; use smoothing > 0")
    terms = pp[support] * (np.log(pp[support]) - np.log(qq[support]))
    return float(max(terms.sum() / _LN2, 0.0))
