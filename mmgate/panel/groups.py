"""Relevance beyond one-to-one: validated group labels (rows sharing a label are relevant to each
other: the five captions of one image, the images of one class) and exact-duplicate detection, the
usual sign that a canary scored without groups penalises answers that are equally right."""

from __future__ import annotations

import numpy as np

from mmgate.errors import InputError
from mmgate.panel.validate import embedding_matrix, real_array, unit_rows

_INT64_LIMIT = 2.0 ** 63


def group_labels(groups: object, n: int, name: str = "groups") -> np.ndarray:
    """``groups`` as int64 labels of shape (n,): integers, or finite whole-number floats (labels read
    from a float column); any other dtype, shape or value raises InputError naming ``name``."""
    arr = real_array(groups, name)
    if arr.shape != (n,):
        raise InputError(f"{name} must be 1-D with one integer label per row (N={n}); got shape {arr.shape}")
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise InputError(f"{name} contains non-finite values (NaN or Inf) in {bad.size} of {n} rows "
                             f"(first: row {int(bad[0])})")
        bad = np.flatnonzero((arr != np.round(arr)) | (np.abs(arr) >= _INT64_LIMIT))
        if bad.size:
            raise InputError(f"{name} must hold integer labels; row {int(bad[0])} holds {float(arr[bad[0]])!r}")
    return arr.astype(np.int64)


def duplicate_groups(z: object, name: str = "z") -> np.ndarray:
    """Per row, the index of the first row with exactly the same direction (L2-normalised row in the
    compute dtype, what retrieval scores; identical raw rows always qualify), as int64 labels.

    Rows without an earlier duplicate get their own index, so the result can serve as ``groups``:
    captions with identical embeddings become interchangeable answers."""
    unit = unit_rows(embedding_matrix(z, name), name)
    _, first, inverse = np.unique(unit, axis=0, return_index=True, return_inverse=True)
    return first[inverse.reshape(-1)].astype(np.int64)


def duplicate_rows(z: object, name: str = "z") -> int:
    """Number of rows whose direction exactly equals an earlier row's (0 when all rows differ), e.g.
    duplicate captions a gate should report when a canary comes without groups."""
    labels = duplicate_groups(z, name)
    return int(np.count_nonzero(labels != np.arange(labels.shape[0])))
