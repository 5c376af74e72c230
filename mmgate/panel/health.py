"""Numerical health of raw embeddings: counts of bad rows, reported rather than raised."""

from __future__ import annotations

import numpy as np

from mmgate.errors import InputError
from mmgate.panel.validate import real_array


def numerical_health(z: object) -> dict[str, int]:
    """Counts ``n_rows``, ``nan_rows`` (any NaN), ``inf_rows`` (any +-Inf), ``zero_norm_rows``
    (all entries exactly 0). Never raises on non-finite values; only a non-real dtype or a shape
    other than 2-D raises InputError."""
    arr = real_array(z, "z")
    if arr.ndim != 2:
        raise InputError(f"z must be 2-D (N, d) embeddings; got a {arr.ndim}-D array of shape {arr.shape}")
    if arr.dtype.kind == "f":
        nan_rows = int(np.count_nonzero(np.isnan(arr).any(axis=1)))
        inf_rows = int(np.count_nonzero(np.isinf(arr).any(axis=1)))
    else:
        nan_rows = inf_rows = 0
    zero_rows = int(np.count_nonzero(~(arr != 0).any(axis=1)))
    return {"n_rows": int(arr.shape[0]), "nan_rows": nan_rows, "inf_rows": inf_rows, "zero_norm_rows": zero_rows}
