"""Embedding drift between a reference and a new sample of embeddings: centroid shift, a Gaussian-
kernel MMD² permutation test, per-dimension Kolmogorov-Smirnov tests with Benjamini-Hochberg control
and a cross-validated domain classifier, each reporting an effect size next to its p-value, because
with thousands of rows a negligible shift is still "significant".

Pure numpy and seeded: every random step draws from ``np.random.default_rng(SeedSequence([seed,
STREAM]))`` with one stream per component, so the same inputs and seed give the same numbers.
The MMD² test lives in ``mmgate.drift.mmd`` and the domain classifier in
``mmgate.drift.domain_classifier``; this module holds the centroid shift, the per-dimension KS
tests and the compositions the drift budgets read.
"""

from __future__ import annotations

import numpy as np

from mmgate.drift.domain_classifier import domain_classifier_auc
from mmgate.drift.mmd import mmd2_test
from mmgate.drift.samples import embedding_samples
from mmgate.errors import InputError
from mmgate.panel.validate import (
    compute_dtype,
    probability,
    unit_rows,
)

_KOLMOGOROV_TERMS = np.arange(1, 101, dtype=np.float64)


def centroid_shift(ref: object, new: object) -> dict[str, float]:
    """Distance between the centroids of the L2-normalised rows, raw and in units of the reference's
    per-item spread (RMS distance of a reference row to its centroid), plus the centroids' cosine.

    ``effect_size`` = ``shift / ref_spread``; with no drift it is about sqrt(1/n_ref + 1/n_new).
    A reference of identical rows has no spread: its effect size is then 0.0 without a shift and
    1.0 with one. ``cosine`` is 0.0 when either centroid is the zero vector."""
    x, y = embedding_samples(ref, new)
    ux, uy = unit_rows(x, "ref", np.float64), unit_rows(y, "new", np.float64)
    cx, cy = ux.mean(axis=0), uy.mean(axis=0)
    norm_x, norm_y = float(np.linalg.norm(cx)), float(np.linalg.norm(cy))
    shift = float(np.linalg.norm(cy - cx))
    spread = float(np.sqrt(np.mean(np.einsum("ij,ij->i", ux - cx, ux - cx))))
    cosine = float(np.clip(cx @ cy / (norm_x * norm_y), -1.0, 1.0)) if norm_x > 0 and norm_y > 0 else 0.0
    return {"shift": shift, "ref_spread": spread, "effect_size": shift / spread if spread > 0 else float(shift > 0),
            "cosine": cosine, "ref_centroid_norm": norm_x, "new_centroid_norm": norm_y}


def kolmogorov_sf(lam: object) -> np.ndarray:
    """Survival function Q(lambda) = P(K > lambda) of the Kolmogorov distribution, the asymptotic law
    of sqrt(n_e) D: 2 sum_k (-1)^(k-1) exp(-2 k² lambda²) for lambda >= 1.18, and the equivalent
    1 - sqrt(2 pi) / lambda sum_k exp(-(2k-1)² pi² / (8 lambda²)) below it (100 terms each)."""
    shape = np.shape(lam)
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64)).ravel()
    out = np.ones_like(lam)
    large = lam >= 1.18
    if large.any():
        k = _KOLMOGOROV_TERMS[:, None]
        signs = np.where(k % 2 == 1, 1.0, -1.0)
        out[large] = 2.0 * np.sum(signs * np.exp(-2.0 * k * k * lam[large] ** 2), axis=0)
    small = (lam > 0) & ~large
    if small.any():
        odd = (2.0 * _KOLMOGOROV_TERMS - 1.0)[:, None]
        series = np.sum(np.exp(-(odd * odd) * np.pi**2 / (8.0 * lam[small] ** 2)), axis=0)
        out[small] = 1.0 - np.sqrt(2.0 * np.pi) / lam[small] * series
    return np.clip(out, 0.0, 1.0).reshape(shape)


def benjamini_hochberg(p_values: object, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg step-up: adjusted p-values min_{j >= i} (m / j) p_(j) (capped at 1) and the
    rejections (adjusted <= ``alpha``), which control the false discovery rate at ``alpha``."""
    level = probability(alpha, "alpha")
    p = np.asarray(p_values, dtype=np.float64).ravel()
    if p.size == 0 or not np.all((p >= 0.0) & (p <= 1.0)):
        raise InputError("p_values must be a non-empty array of numbers in [0, 1]")
    order = np.argsort(p, kind="stable")
    scaled = p[order] * p.size / np.arange(1, p.size + 1)
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    return adjusted, adjusted <= level


def _ks_statistics(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Two-sample KS statistic sup |F_x - F_y| of every column, exact (integer ECDF steps, ties
    evaluated only at the end of each run of equal values)."""
    n_x, n_y = x.shape[0], y.shape[0]
    pooled = np.concatenate([x, y]).T.astype(np.float64, order="C")
    order = np.argsort(pooled, axis=1, kind="stable")
    values = np.take_along_axis(pooled, order, axis=1)
    steps = np.where(order < n_x, n_y, -n_x).astype(np.int64)
    gaps = np.abs(np.cumsum(steps, axis=1))
    run_end = np.ones_like(values, dtype=bool)
    run_end[:, :-1] = values[:, 1:] != values[:, :-1]
    return np.max(np.where(run_end, gaps, 0), axis=1) / (n_x * n_y)


def ks_per_dimension(ref: object, new: object, *, alpha: float = 0.05) -> dict[str, object]:
    """Two-sample Kolmogorov-Smirnov test of every dimension, Benjamini-Hochberg adjusted across them.

    p-values are asymptotic: Q((sqrt(n_e) + 0.12 + 0.11 / sqrt(n_e)) D) with n_e = n_x n_y / (n_x + n_y)
    (Stephens' small-sample correction; no exact small-sample distribution). ``max_statistic`` (the
    largest D, a difference of two CDFs in [0, 1]) is the effect size."""
    x, y = embedding_samples(ref, new)
    level = probability(alpha, "alpha")
    stats = _ks_statistics(x, y)
    n_e = x.shape[0] * y.shape[0] / (x.shape[0] + y.shape[0])
    p = kolmogorov_sf((np.sqrt(n_e) + 0.12 + 0.11 / np.sqrt(n_e)) * stats)
    adjusted, rejected = benjamini_hochberg(p, level)
    top = int(np.argmax(stats))
    return {"statistics": stats.tolist(), "p_values": p.tolist(), "adjusted_p_values": adjusted.tolist(),
            "rejected_dimensions": np.flatnonzero(rejected).tolist(), "n_rejected": int(rejected.sum()),
            "fraction_rejected": float(rejected.mean()), "max_statistic": float(stats[top]), "max_dimension": top,
            "min_adjusted_p_value": float(adjusted.min()), "alpha": level, "n_dimensions": int(stats.size),
            "p_value_method": "asymptotic Kolmogorov distribution with Stephens' correction"}


def _drift(ux: np.ndarray, uy: np.ndarray, seed: int, permutations: int) -> dict[str, object]:
    return {"n_ref": int(ux.shape[0]), "n_new": int(uy.shape[0]), "dim": int(ux.shape[1]),
            "centroid": centroid_shift(ux, uy),
            "mmd": mmd2_test(ux, uy, permutations=permutations, seed=seed).to_dict(),
            "ks": ks_per_dimension(ux, uy),
            "classifier": domain_classifier_auc(ux, uy, seed=seed)}


def embedding_drift(ref: object, new: object, *, seed: int = 0, permutations: int = 200) -> dict[str, object]:
    """Every drift statistic of this module on the L2-normalised rows (the cosine geometry the model's
    scores use; raw norm drift is not seen here), as one JSON-ready dict with effect sizes next to
    p-values: ``centroid``, ``mmd``, ``ks``, ``classifier``."""
    x, y = embedding_samples(ref, new)
    return _drift(unit_rows(x, "ref"), unit_rows(y, "new"), seed, permutations)


def _joint_rows(img: np.ndarray, txt: np.ndarray, img_name: str, txt_name: str) -> np.ndarray:
    """Row-paired [img, txt] with each half L2-normalised and the row scaled to unit norm."""
    if img.shape[0] != txt.shape[0]:
        raise InputError(f"shape mismatch: {img_name} has N={img.shape[0]} rows but {txt_name} has "
                         f"N={txt.shape[0]}; pairs are matched by row")
    dtype = np.promote_types(compute_dtype(img.dtype), compute_dtype(txt.dtype))
    return np.hstack([unit_rows(img, img_name, dtype), unit_rows(txt, txt_name, dtype)]) / dtype.type(np.sqrt(2.0))


def joint_pair_drift(ref_img: object, ref_txt: object, new_img: object, new_txt: object, *, seed: int = 0,
                     permutations: int = 200) -> dict[str, object]:
    """``embedding_drift`` per modality (``image``, ``text``) and on the ``joint`` pair rows (the
    normalised image and text halves side by side), which also sees drift in how pairs co-vary."""
    ri, ni = embedding_samples(ref_img, new_img, "ref_img", "new_img")
    rt, nt = embedding_samples(ref_txt, new_txt, "ref_txt", "new_txt")
    joint_ref, joint_new = _joint_rows(ri, rt, "ref_img", "ref_txt"), _joint_rows(ni, nt, "new_img", "new_txt")
    return {"image": _drift(unit_rows(ri, "ref_img"), unit_rows(ni, "new_img"), seed, permutations),
            "text": _drift(unit_rows(rt, "ref_txt"), unit_rows(nt, "new_txt"), seed, permutations),
            "joint": _drift(joint_ref, joint_new, seed, permutations)}
