"""Healthy by default: on each of 5 seeds the default aligner meets the chapter-3 thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from mmgate.panel import (
    cca_proxy,
    coordinate_variance,
    effective_rank,
    mean_cosine,
    mi_proxy,
    retrieval_metrics,
)
from mmgate.reference import embed_split, train_reference
from mmgate.world import DEFAULT_WORLD, make_world

# chapter-3 AcceptCfg
MIN_TOP1 = 0.55
MIN_TOP5 = 0.85
MAX_SYMMETRY_GAP = 0.10
MAX_MEAN_COSINE = 0.22
MIN_COORD_VARIANCE = 2e-3
MIN_EFFECTIVE_RANK = 12.0
MIN_MI_PROXY = 0.05
MIN_CCA_PROXY = 0.35


def default_health(seed: int) -> dict[str, float]:
    """Test-split health of the default aligner trained with `seed` on that seed's default world."""
    world = make_world(DEFAULT_WORLD, seed)
    model = train_reference(world, seed=seed).model
    z_img, z_txt = embed_split(model, world.test)
    r = retrieval_metrics(z_img, z_txt, ks=(1, 5))
    return {
        "n_test": float(z_img.shape[0]),
        "i2t_top1": r["i2t_recall@1"], "t2i_top1": r["t2i_recall@1"],
        "i2t_top5": r["i2t_recall@5"], "t2i_top5": r["t2i_recall@5"],
        "symmetry_gap": abs(r["i2t_recall@1"] - r["t2i_recall@1"]),
        "max_mean_cosine": max(mean_cosine(z_img), mean_cosine(z_txt)),
        "min_coord_variance": min(coordinate_variance(z_img)["min"],
                                  coordinate_variance(z_txt)["min"]),
        "min_effective_rank": min(effective_rank(z_img), effective_rank(z_txt)),
        "mi_proxy": float(np.mean([mi_proxy(z_img, world.test.factors[f]).value
                                   for f in ("shape", "orient", "freq")])),
        "cca_proxy": cca_proxy(z_img, z_txt),
    }


CHECKS = [
    ("n_test", ">=", 256), ("i2t_top1", ">=", MIN_TOP1), ("t2i_top1", ">=", MIN_TOP1),
    ("i2t_top5", ">=", MIN_TOP5), ("t2i_top5", ">=", MIN_TOP5),
    ("symmetry_gap", "<=", MAX_SYMMETRY_GAP),
    ("max_mean_cosine", "<=", MAX_MEAN_COSINE), ("min_coord_variance", ">=", MIN_COORD_VARIANCE),
    ("min_effective_rank", ">=", MIN_EFFECTIVE_RANK), ("mi_proxy", ">=", MIN_MI_PROXY),
    ("cca_proxy", ">=", MIN_CCA_PROXY),
]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_default_aligner_meets_every_acceptance_threshold(seed):
    health = default_health(seed)
    failures = [f"{name} = {health[name]:.4f}, required {op} {limit}"
                for name, op, limit in CHECKS
                if not (health[name] >= limit if op == ">=" else health[name] <= limit)]
    assert not failures, f"seed {seed}: " + "; ".join(failures)
