"""Outlier-aware aggregation of per-item or per-position divergences.

A mean dilutes a few large divergences (a token loop at 4 of 60 positions) under a threshold that
the same values clear easily under rmse or a high percentile, so the default is the 95th
percentile and the mean is reported alongside it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mmgate.errors import ConfigError, InputError

AGGREGATES = ("mean", "rmse", "p95", "max")
DEFAULT_AGGREGATE = "p95"


def _values(values: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind not in "fiu":
        raise InputError(f"values must hold real numbers; got dtype {arr.dtype}")
    if arr.size == 0:
        raise InputError("values must not be empty: there is nothing to aggregate")
    flat = arr.astype(np.float64).ravel()
    if not np.isfinite(flat).all():
        raise InputError(f"values contain {int(np.count_nonzero(~np.isfinite(flat)))} non-finite entries (NaN or Inf)")
    return flat


def _reduce(v: np.ndarray, how: str) -> float:
    if how == "mean":
        return float(v.mean())
    if how == "rmse":
        scale = float(np.abs(v).max())
        return 0.0 if scale == 0 else scale * float(np.sqrt(np.mean((v / scale) ** 2)))
    if how == "p95":
        return float(np.percentile(v, 95))
    return float(v.max())


def _check_how(how: object) -> str:
    if not isinstance(how, str) or how not in AGGREGATES:
        raise ConfigError(f"how must be one of {', '.join(AGGREGATES)}; got {how!r}")
    return how


def aggregate(values: Sequence[float] | np.ndarray, how: str = DEFAULT_AGGREGATE) -> float:
    """Reduce divergences (any shape, flattened) with ``how``: mean, rmse (root mean square), p95
    (95th percentile, linear interpolation) or max."""
    return _reduce(_values(values), _check_how(how))


def aggregate_all(values: Sequence[float] | np.ndarray) -> dict[str, float]:
    """Every aggregate of ``values`` in ``AGGREGATES`` order, so a report shows the mean beside p95."""
    v = _values(values)
    return {how: _reduce(v, how) for how in AGGREGATES}
