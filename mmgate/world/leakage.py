"""Index-cue leakage alarm (chapter-3 notebook): do raw input features correlate with an ID cue?"""

from __future__ import annotations

import numpy as np

from mmgate.errors import InputError
from mmgate.world.checks import require_number


def _as_matrix(name: str, features: np.ndarray, n: int) -> np.ndarray:
    x = np.asarray(features)
    if x.ndim < 2 or x.shape[0] != n or x[0].size == 0 or not np.issubdtype(x.dtype, np.number):
        raise InputError(f"{name}: expected a numeric array with {n} rows (one per cue value) and "
                         f"at least one feature, got dtype {x.dtype} and shape {x.shape}")
    x = x.reshape(n, -1).astype(np.float64)
    if not np.isfinite(x).all():
        raise InputError(f"{name}: expected finite values, found NaN or Inf")
    return x


def cue_correlations(features: np.ndarray, cue: np.ndarray) -> np.ndarray:
    """Pearson correlation of every column of (n, d) ``features`` with the (n,) ``cue``; 0 where a
    column or the cue is constant."""
    y = cue - cue.mean()
    xc = features - features.mean(axis=0)
    constant = features.max(axis=0) == features.min(axis=0)
    if cue.max() == cue.min():
        return np.zeros(features.shape[1])
    denom = np.sqrt((xc * xc).sum(axis=0) * (y @ y))
    corr = np.where(constant, 0.0, (xc.T @ y) / np.where(constant, 1.0, denom))
    return np.clip(corr, -1.0, 1.0)


def leakage_alarm(features_img: np.ndarray, features_txt: np.ndarray, cue: np.ndarray,
                  threshold: float = 0.35) -> dict:
    """Index-cue leakage alarm (chapter-3 notebook): max |corr| between any input feature column and
    the cue (e.g. item-index parity) per modality; vectorised; level "investigate" above threshold
    else "low"; constant columns give corr 0. Images (n, S, S) are flattened to (n, S*S)."""
    threshold = require_number("threshold", threshold, low=0.0, high=1.0)
    y = np.asarray(cue)
    if y.ndim != 1 or y.shape[0] < 2 or not np.issubdtype(y.dtype, np.number) \
            or not np.isfinite(y).all():
        raise InputError(f"cue: expected a finite 1-D numeric array of length >= 2, got dtype "
                         f"{y.dtype} and shape {y.shape}")
    y = y.astype(np.float64)
    out: dict = {}
    for key, name, feats in (("img", "features_img", features_img),
                             ("txt", "features_txt", features_txt)):
        corr = np.abs(cue_correlations(_as_matrix(name, feats, y.shape[0]), y))
        col = int(np.argmax(corr))
        out[f"max_abs_corr_{key}"] = float(corr[col])
        out[f"argmax_{key}"] = col
    out["threshold"] = threshold
    worst = max(out["max_abs_corr_img"], out["max_abs_corr_txt"])
    out["level"] = "investigate" if worst > threshold else "low"
    return out
