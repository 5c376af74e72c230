"""Healthy by default: on each of 5 seeds the default aligner meets the chapter-3 acceptance
thresholds (the default Contract), measured by the same code the gates use, including the
bias-corrected probes (MI excess over a permutation null, chance-corrected CCA)."""

from __future__ import annotations

import pytest

from mmgate.gating.contract import Contract
from mmgate.gating.measurements import Measurements
from mmgate.lab.builtin import ReferenceTrainer
from mmgate.subjects.embedding import embed_set

CONTRACT = Contract()


def default_health(seed: int) -> dict[str, float]:
    """Test-split measurements of the default aligner trained with ``seed`` on that seed's world."""
    subject = ReferenceTrainer().subject(seed)
    m = Measurements(embed_set(subject.encoder, subject.canary), subject.canary, CONTRACT, seed)
    geometry = [m.geometry(modality) for modality in ("image", "text")]
    mi = m.mi_probe()
    return {
        "n_test": float(len(subject.canary)),
        "i2t_top1": m.recall("image_to_text", 1)[0], "t2i_top1": m.recall("text_to_image", 1)[0],
        "i2t_top5": m.recall("image_to_text", 5)[0], "t2i_top5": m.recall("text_to_image", 5)[0],
        "symmetry_gap": m.symmetry_gap()[0],
        "max_mean_cosine": max(g["mean_cosine"] for g in geometry),
        "min_coord_variance": min(g["variance"]["min"] for g in geometry),
        "min_effective_rank": min(g["effective_rank"] for g in geometry),
        "mi_proxy_raw": mi["modalities"]["image"]["value_mean"],
        "mi_excess": mi["excess"],
        "cca_corrected": m.cca()["cca"],
    }


CHECKS = [
    ("n_test", ">=", 256),
    ("i2t_top1", ">=", CONTRACT.min_retrieval_top1), ("t2i_top1", ">=", CONTRACT.min_retrieval_top1),
    ("i2t_top5", ">=", CONTRACT.min_retrieval_top5), ("t2i_top5", ">=", CONTRACT.min_retrieval_top5),
    ("symmetry_gap", "<=", CONTRACT.max_symmetry_gap),
    ("max_mean_cosine", "<=", CONTRACT.max_mean_cosine),
    ("min_coord_variance", ">=", CONTRACT.min_variance_floor),
    ("min_effective_rank", ">=", CONTRACT.min_effective_rank),
    ("mi_proxy_raw", ">=", 0.05),  # the chapter-3 AcceptCfg floor on the raw (biased) proxy
    ("mi_excess", ">=", CONTRACT.min_mi_excess),
    ("cca_corrected", ">=", CONTRACT.min_cca),
]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_default_aligner_meets_every_acceptance_threshold(seed):
    health = default_health(seed)
    failures = [f"{name} = {health[name]:.4f}, required {op} {limit}"
                for name, op, limit in CHECKS
                if not (health[name] >= limit if op == ">=" else health[name] <= limit)]
    assert not failures, f"seed {seed}: " + "; ".join(failures)
