"""Training-pair audit: pairs the model itself scores no better than unrelated pairs.

A model trained on partly mispaired data still learns the true structure from the clean majority,
so its cosine for a mispaired training pair looks like the cosine of a random (image, text)
combination. The share of training pairs that do is an estimate of the join-bug rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mmgate.errors import ConfigError
from mmgate.panel.validate import config_int, embedding_pair, unit_pair

AUDIT_STREAM = 71
NULL_DRAWS = 4


def _derangement(n: int, rng: np.random.Generator) -> np.ndarray:
    """A random permutation without fixed points: each row gets another row's partner."""
    order = rng.permutation(n)
    partner = np.empty(n, dtype=np.int64)
    partner[order] = np.roll(order, 1)
    return partner


def audit_pairs(z_img: object, z_txt: object, *, seed: int = 0, level: float = 0.95,
                max_items: int = 4096) -> dict[str, Any]:
    """Share of pairs whose cosine is at most the ``level`` quantile of unrelated pairs' cosines.

    Unrelated pairs are ``NULL_DRAWS`` seeded derangements of the same rows, so the null has the
    same marginals as the audited pairs; at most ``max_items`` pairs (a seeded sample) are audited.
    """
    zi, zt = embedding_pair(z_img, z_txt)
    if not 0.5 <= level < 1.0:
        raise ConfigError(f"level: expected a quantile level in [0.5, 1), got {level!r}")
    max_items = config_int(max_items, "max_items", 2)
    rng = np.random.default_rng(np.random.SeedSequence([seed, AUDIT_STREAM]))
    n = zi.shape[0]
    rows = np.sort(rng.choice(n, size=max_items, replace=False)) if n > max_items else np.arange(n)
    ui, ut = unit_pair(zi[rows], zt[rows])
    pair = np.einsum("ij,ij->i", ui, ut).astype(np.float64)
    null = np.concatenate([np.einsum("ij,ij->i", ui, ut[_derangement(rows.size, rng)])
                           for _ in range(NULL_DRAWS)]).astype(np.float64)
    cut = float(np.quantile(null, level))
    suspect = int(np.count_nonzero(pair <= cut))
    return {
        "audited_pairs": int(rows.size),
        "total_pairs": int(n),
        "null_level": level,
        "null_draws": NULL_DRAWS,
        "null_threshold": cut,
        "suspect_pairs": suspect,
        "suspect_fraction": suspect / rows.size,
        "pair_cosine_mean": float(pair.mean()),
        "null_cosine_mean": float(null.mean()),
    }
