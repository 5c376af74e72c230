"""Geometry of the embedding cloud: cosine concentration, coordinate variance, norms, modality gap,
and the alignment / uniformity pair of Wang & Isola (2020). All O(N d) except ``uniformity``."""

from __future__ import annotations

import numpy as np

from mmgate.errors import InputError
from mmgate.panel.blocks import capped_rows
from mmgate.panel.validate import (
    block_rows,
    config_int,
    embedding_matrix,
    embedding_pair,
    positive_real,
    row_norms,
    unit_rows,
)

_UNIFORMITY_STREAM = 31


def _unit64(z: object, name: str = "z") -> np.ndarray:
    return unit_rows(embedding_matrix(z, name), name, np.float64)


def _unit_pair64(z_img: object, z_txt: object) -> tuple[np.ndarray, np.ndarray]:
    zi, zt = embedding_pair(z_img, z_txt)
    return unit_rows(zi, "z_img", np.float64), unit_rows(zt, "z_txt", np.float64)


def mean_cosine(z: object) -> float:
    """Mean cosine over all ordered pairs i != j of L2-normalised rows, in O(N d): with s the sum of
    the unit rows, sum_{i != j} <u_i, u_j> = ||s||^2 - sum_i ||u_i||^2. 1 for a collapsed set."""
    u = _unit64(z)
    n = u.shape[0]
    total = u.sum(axis=0)
    return float(np.clip((total @ total - np.einsum("ij,ij->", u, u)) / (n * (n - 1)), -1.0, 1.0))


def cross_mean_cosine(z_img: object, z_txt: object) -> float:
    """Mean cosine between image i and text j over all non-paired cross pairs (i != j), in O(N d)."""
    ui, ut = _unit_pair64(z_img, z_txt)
    n = ui.shape[0]
    return float((ui.sum(axis=0) @ ut.sum(axis=0) - np.einsum("ij,ij->", ui, ut)) / (n * (n - 1)))


def coordinate_variance(z: object) -> dict[str, float]:
    """Per-coordinate variance (ddof=0) of the L2-normalised rows: ``min``, ``p5`` (5th percentile)
    and ``median``. A floor near zero means some directions carry no diversity."""
    var = _unit64(z).var(axis=0)
    return {"min": float(var.min()), "p5": float(np.percentile(var, 5)), "median": float(np.median(var))}


def norm_stats(z: object) -> dict[str, float]:
    """Pre-normalisation row norms: ``mean``, ``std`` (ddof=0), ``cv`` (std / mean; nan when every
    row is zero), ``min``, ``max``. Zero rows are allowed here and show as min 0."""
    norms = row_norms(embedding_matrix(z, "z"))
    mean, std = float(norms.mean()), float(norms.std())
    return {"mean": mean, "std": std, "cv": std / mean if mean > 0 else float("nan"),
            "min": float(norms.min()), "max": float(norms.max())}


def norm_divergence(z_img: object, z_txt: object) -> dict[str, float]:
    """Mismatch of the two modalities' raw norm distributions: ``log_mean_ratio`` =
    log(mean_img / mean_txt) (signed, 0 when the scales match), ``abs_log_mean_ratio`` its size,
    and ``cv_diff`` = cv_img - cv_txt (spread mismatch, scale free)."""
    zi, zt = embedding_pair(z_img, z_txt, same_dim=False, paired=False)
    a, b = norm_stats(zi), norm_stats(zt)
    for name, stats in (("z_img", a), ("z_txt", b)):
        if stats["mean"] == 0:
            raise InputError(f"{name} has only zero-norm rows; the norm ratio is undefined")
    ratio = float(np.log(a["mean"] / b["mean"]))
    return {"log_mean_ratio": ratio, "abs_log_mean_ratio": abs(ratio), "cv_diff": a["cv"] - b["cv"]}


def modality_gap(z_img: object, z_txt: object) -> float:
    """Euclidean distance between the centroids of the L2-normalised image and text rows
    (0 = the modalities share one centre; at most 2)."""
    ui, ut = _unit_pair64(z_img, z_txt)
    return float(np.linalg.norm(ui.mean(axis=0) - ut.mean(axis=0)))


def alignment(z_img: object, z_txt: object) -> float:
    """Wang & Isola alignment (alpha = 2): mean squared distance between paired unit rows,
    E ||u_i - v_i||^2 = 2 - 2 E cos(u_i, v_i); 0 is perfect, lower is better."""
    ui, ut = _unit_pair64(z_img, z_txt)
    diff = ui - ut
    return float(np.einsum("ij,ij->", diff, diff) / ui.shape[0])


def _block_log_sum(u: np.ndarray, start: int, stop: int, t: float) -> float:
    """log sum over j != i of exp(-t ||u_i - u_j||^2) for the rows i in [start, stop), in float64 and
    in place: one (rows, N) array, freed on return."""
    exponent = (u[start:stop] @ u.T).astype(np.float64, copy=False)
    exponent *= 2.0 * t
    exponent -= 2.0 * t
    np.minimum(exponent, 0.0, out=exponent)
    own = np.arange(start, stop)
    exponent[own - start, own] = -np.inf
    top = exponent.max()
    exponent -= top
    return float(top + np.log(np.exp(exponent, out=exponent).sum()))


def uniformity(z: object, t: float = 2.0, sample: int | None = None, seed: int = 0,
               block_size: int | None = None) -> float:
    """Wang & Isola uniformity: log mean over pairs i < j of exp(-t ||u_i - u_j||^2) on the unit
    rows; more negative = more uniform on the sphere, 0 = collapsed.

    Exact over all pairs by default, computed from blocks of the Gram matrix (O(N^2 d) time,
    O(block x N) memory with the block capped at the panel's block budget whatever ``block_size``,
    a log-sum-exp in float64, exponentials in place). ``sample`` rows drawn without replacement
    (seeded) replace the full set when given and smaller than N."""
    t = positive_real(t, "t")
    arr = embedding_matrix(z, "z")
    if sample is not None:
        size = config_int(sample, "sample", 2)
        if size < arr.shape[0]:
            rng = np.random.default_rng(np.random.SeedSequence([config_int(seed, "seed", 0), _UNIFORMITY_STREAM]))
            arr = arr[np.sort(rng.choice(arr.shape[0], size=size, replace=False))]
    u = unit_rows(arr, "z")
    n = u.shape[0]
    block = capped_rows(block_rows(block_size, n, u.dtype.itemsize, u.shape[1]), n, u.dtype.itemsize + 8)
    logs = [_block_log_sum(u, start, min(n, start + block), t) for start in range(0, n, block)]
    return float(np.logaddexp.reduce(np.asarray(logs)) - np.log(n * (n - 1.0)))
