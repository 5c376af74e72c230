"""Latent factors of the world: seeded sampling (with the orientation domain shift) and checks."""

from __future__ import annotations

import numpy as np

from mmgate.errors import InputError
from mmgate.world import streams
from mmgate.world.checks import require_int
from mmgate.world.config import FACTOR_NAMES, FactorSpec, WorldConfig


def orientation_probabilities(config: WorldConfig) -> np.ndarray:
    """Orientation law: uniform mixed with weight ``orient_concentration`` on the first subset."""
    n = config.factors.n_orient
    c = config.orient_concentration
    probs = np.full(n, (1.0 - c) / n)
    probs[: config.orient_subset] += c / config.orient_subset
    return probs


def sample_factors(config: WorldConfig, n: int, seed: int) -> dict[str, np.ndarray]:
    """Draw ``n`` items' factor labels (int64) from the factor stream of ``seed``.

    Orientation is drawn by inverse CDF from one uniform per item, so every concentration consumes
    the same draws: the other factors never move and c = 0 gives the undrifted orientations.
    """
    n = require_int("n", n, 0, InputError)
    rng = streams.stream(seed, streams.FACTORS)
    spec = config.factors
    out: dict[str, np.ndarray] = {}
    for name in FACTOR_NAMES:
        if name == "orient":
            u = rng.random(n)
            cdf = np.cumsum(orientation_probabilities(config))
            out[name] = np.minimum(np.searchsorted(cdf, u, side="right"), spec.n_orient - 1)
        else:
            out[name] = rng.integers(0, spec.cardinality(name), size=n)
        out[name] = out[name].astype(np.int64)
    return out


def check_factors(factors: dict[str, np.ndarray], spec: FactorSpec) -> int:
    """Check a factor dict against ``spec`` (all names, same-length 1-D ints in range); return n."""
    if not isinstance(factors, dict):
        raise InputError(f"factors: expected a dict of factor arrays, got {type(factors).__name__}")
    missing = [name for name in FACTOR_NAMES if name not in factors]
    if missing:
        raise InputError(f"factors: missing factor(s) {missing}; expected keys "
                         f"{list(FACTOR_NAMES)}")
    n = None
    for name in FACTOR_NAMES:
        arr = np.asarray(factors[name])
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise InputError(f"factors[{name!r}]: expected a 1-D integer array, got dtype "
                             f"{arr.dtype} and shape {arr.shape}")
        if n is None:
            n = arr.shape[0]
        elif arr.shape[0] != n:
            raise InputError(f"factors[{name!r}]: expected length {n} like the other factors, "
                             f"got {arr.shape[0]}")
        card = spec.cardinality(name)
        if arr.size and (arr.min() < 0 or arr.max() >= card):
            raise InputError(f"factors[{name!r}]: expected labels in [0, {card}), got range "
                             f"[{arr.min()}, {arr.max()}]")
    return int(n)


def factor_tuples(factors: dict[str, np.ndarray]) -> np.ndarray:
    """(n, n_factors) int64 matrix of factor combinations, columns in caption order."""
    return np.stack([np.asarray(factors[name], dtype=np.int64) for name in FACTOR_NAMES], axis=1)
