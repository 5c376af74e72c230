"""Confounder labels (index-derived metadata cues) and the seeded choice of marked items."""

from __future__ import annotations

import numpy as np

from mmgate.errors import InputError
from mmgate.world import streams
from mmgate.world.config import WorldConfig

BUCKET_RUN = 7
BUCKET_CODES = 8


def item_index(index: np.ndarray | None, n: int) -> np.ndarray:
    """World item indices of ``n`` rows: ``index`` checked (1-D, non-negative ints), or range(n)."""
    if index is None:
        return np.arange(n, dtype=np.int64)
    arr = np.asarray(index)
    if arr.ndim != 1 or arr.shape[0] != n or not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"index: expected a 1-D integer array of length {n}, got dtype "
                         f"{arr.dtype} and shape {arr.shape}")
    if arr.size and arr.min() < 0:
        raise InputError(f"index: expected non-negative item indices, got minimum {arr.min()}")
    return arr.astype(np.int64)


def confounder_labels(index: np.ndarray) -> dict[str, np.ndarray]:
    """ID cues of world items: parity = index % 2, bucket = (index // 7) % 8 (the ID codebook)."""
    idx = np.asarray(index, dtype=np.int64)
    return {"parity": idx % 2, "bucket": (idx // BUCKET_RUN) % BUCKET_CODES}


def marker_codes(config: WorldConfig, index: np.ndarray) -> np.ndarray:
    """Code each item's marker shows under ``config.confounder`` (parity bit or bucket id)."""
    if config.confounder == "none":
        raise InputError("confounder: marker codes need 'parity' or 'bucket', got 'none'")
    return confounder_labels(index)[config.confounder]


def marker_mask(config: WorldConfig, index: np.ndarray, seed: int) -> np.ndarray:
    """Items that carry the confounder marker in both modalities: none when confounder is 'none',
    else item i is marked when its uniform draw (keyed by world index) is below the prevalence."""
    idx = np.asarray(index, dtype=np.int64)
    if config.confounder == "none":
        return np.zeros(idx.shape[0], dtype=bool)
    return streams.item_uniform(seed, streams.MARKER, 0, idx) < config.confounder_prevalence
