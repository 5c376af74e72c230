"""Validation snapshot of an aligner on one split, composed from mmgate.panel metrics."""

from __future__ import annotations

import numpy as np

from mmgate.panel import (
    coordinate_variance,
    effective_rank,
    mean_cosine,
    retrieval_metrics,
)
from mmgate.reference.model import ReferenceAligner
from mmgate.reference.objective import l2_normalize, symmetric_infonce
from mmgate.world import SplitData


def embed_split(model: ReferenceAligner, split: SplitData) -> tuple[np.ndarray, np.ndarray]:
    """Raw (image, text) embeddings of a split, paired by row as the split pairs them."""
    return model.embed_images(split.images), model.embed_texts(split.tokens)


def split_snapshot(model: ReferenceAligner, split: SplitData,
                   prefix: str = "val") -> dict[str, float]:
    """Loss, retrieval both ways; per modality: min coordinate variance, mean cosine, eff. rank."""
    z_img, z_txt = embed_split(model, split)
    y_img, _ = l2_normalize(z_img.astype(np.float64))
    y_txt, _ = l2_normalize(z_txt.astype(np.float64))
    loss = symmetric_infonce((y_img @ y_txt.T) / model.temperature).loss
    r = retrieval_metrics(z_img, z_txt, ks=(1, 5))
    out = {
        "loss": loss,
        "i2t_top1": r["i2t_recall@1"], "t2i_top1": r["t2i_recall@1"],
        "i2t_top5": r["i2t_recall@5"], "t2i_top5": r["t2i_recall@5"],
        "top1": 0.5 * (r["i2t_recall@1"] + r["t2i_recall@1"]),
    }
    for tag, z in (("img", z_img), ("txt", z_txt)):
        out[f"var_min_{tag}"] = coordinate_variance(z)["min"]
        out[f"mean_cos_{tag}"] = mean_cosine(z)
        out[f"eff_rank_{tag}"] = effective_rank(z)
    return {f"{prefix}_{k}": float(v) for k, v in out.items()}
