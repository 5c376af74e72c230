"""Validated, seeded embedding samples shared by the drift tests: at least MIN_ROWS finite rows per
sample, equal dimensions, and one random stream per component."""

from __future__ import annotations

import numpy as np

from mmgate.errors import InputError
from mmgate.panel.validate import (
    config_int,
    embedding_matrix,
)

MIN_ROWS = 5


def embedding_sample(z: object, name: str) -> np.ndarray:
    """``z`` as validated (N, d) finite real rows with N >= MIN_ROWS."""
    arr = embedding_matrix(z, name)
    if arr.shape[0] < MIN_ROWS:
        raise InputError(f"{name} needs at least {MIN_ROWS} rows to compare distributions; got N={arr.shape[0]}")
    return arr


def embedding_samples(ref: object, new: object, ref_name: str = "ref", new_name: str = "new") -> tuple[np.ndarray, np.ndarray]:
    """Validated reference and new samples with the same dimension d."""
    x, y = embedding_sample(ref, ref_name), embedding_sample(new, new_name)
    if x.shape[1] != y.shape[1]:
        raise InputError(f"dimension mismatch: {ref_name} has d={x.shape[1]} columns but {new_name} has "
                         f"d={y.shape[1]}; both samples must live in the same embedding space")
    return x, y


def stream_rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([config_int(seed, "seed", 0), stream]))
