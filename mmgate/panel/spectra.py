"""Spectra of the L2-normalised embeddings: effective rank (covariance eigenvalues, book §3.5.3),
RankMe (singular values), leading-eigenvalue share, rank divergence and principal-component scores.

Eigenvalues at or below a noise floor count as zero, so rounding cannot fake rank in a collapsed
set: floor = max(lambda_max * max(N, d) * eps64, eps_in^2, (16 * eps_c)^2), where eps_in is the
precision of the input dtype and eps_c that of the compute dtype (float32 for float16/float32
input, float64 otherwise). The first term is the eigensolver's error; the second bounds the
variance that rounding the input can put along any direction of unit rows (each row moves by at
most eps_in / 2); the third covers the normalisation arithmetic (a few eps_c).
"""

from __future__ import annotations

import numpy as np

from mmgate.errors import InputError
from mmgate.panel.validate import (
    compute_dtype,
    config_int,
    embedding_matrix,
    embedding_pair,
    real_array,
    unit_rows,
)


def _prepared(z: object, name: str = "z") -> tuple[np.ndarray, float]:
    """Unit rows in float64 and the rounding floor of the input (see the module docstring)."""
    arr = embedding_matrix(z, name)
    eps_in = float(np.finfo(arr.dtype).eps) if arr.dtype.kind == "f" else float(np.finfo(np.float64).eps)
    eps_c = float(np.finfo(compute_dtype(arr.dtype)).eps)
    return unit_rows(arr, name, np.float64), max(eps_in ** 2, (16.0 * eps_c) ** 2)


def _centred(u: np.ndarray) -> np.ndarray:
    """Rows minus their mean, centred twice: numpy's column sums are sequential, so one pass leaves
    a common offset of about N * eps that would show up as a spurious eigenvalue."""
    x = u - u.mean(axis=0)
    x -= x.mean(axis=0)
    return x


def _second_moment_eigenvalues(x: np.ndarray, rounding_floor: float) -> np.ndarray:
    """Descending eigenvalues of x.T @ x / N (via the smaller Gram side), noise floor set to 0."""
    n, d = x.shape
    gram = x.T @ x if d <= n else x @ x.T
    lam = np.clip(np.linalg.eigvalsh(gram / n)[::-1], 0.0, None)
    floor = max(lam[0] * max(n, d) * np.finfo(np.float64).eps, rounding_floor)
    lam[lam <= floor] = 0.0
    return lam


def _exp_entropy(weights: np.ndarray) -> float:
    """exp of the Shannon entropy (nats) of non-negative weights normalised to sum 1; 0 if all zero."""
    w = weights[weights > 0]
    if w.size == 0:
        return 0.0
    p = w / w.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def covariance_spectrum(z: object) -> np.ndarray:
    """Eigenvalues (descending, float64) of the covariance (ddof=0) of the L2-normalised, centred rows;
    there are min(N, d) of them and values at or below the noise floor are exactly 0."""
    u, floor = _prepared(z)
    return _second_moment_eigenvalues(_centred(u), floor)


def spectrum_effective_rank(eigenvalues: object) -> float:
    """exp(entropy) of a given spectrum normalised to sum 1 (negative rounding clipped to 0); 0.0
    for an all-zero, fully collapsed spectrum. ``effective_rank`` is this of the covariance spectrum."""
    values = real_array(eigenvalues, "eigenvalues").astype(np.float64).ravel()
    if not np.isfinite(values).all():
        raise InputError("eigenvalues must be finite")
    return _exp_entropy(np.clip(values, 0.0, None))


def effective_rank(z: object) -> float:
    """exp(entropy) of the normalised covariance eigenvalues of the L2-normalised, centred rows
    (book §3.5.3): about the number of directions carrying variance; 0.0 when no variance is left."""
    return _exp_entropy(covariance_spectrum(z))


def rankme(z: object) -> float:
    """RankMe (Garrido et al. 2023): exp(entropy) of the normalised singular values of the matrix of
    L2-normalised rows, uncentred; singular values, not eigenvalues, so it differs from
    ``effective_rank``. At least 1 (a collapsed set has one direction)."""
    u, floor = _prepared(z)
    return _exp_entropy(np.sqrt(_second_moment_eigenvalues(u, floor)))


def top_eigen_share(z: object, k: int = 5) -> float:
    """Share of the covariance spectrum (total variance of the unit rows) held by its k largest
    eigenvalues; 1.0 when no variance is left."""
    k = config_int(k, "k", 1)
    lam = covariance_spectrum(z)
    total = lam.sum()
    return float(lam[:k].sum() / total) if total > 0 else 1.0


def relative_difference(a: float | np.ndarray, b: float | np.ndarray) -> np.ndarray:
    """|a - b| / max(a, b) elementwise, 0 where both are 0: the divergence of two non-negative
    ranks (or of replicates of them)."""
    top = np.maximum(a, b)
    return np.where(top > 0, np.abs(np.subtract(a, b)) / np.where(top > 0, top, 1.0), 0.0)


def rank_divergence(z_img: object, z_txt: object) -> float:
    """|eff_rank_img - eff_rank_txt| / max of the two (0 when both are 0): how unequally the two
    modalities spread over directions."""
    zi, zt = embedding_pair(z_img, z_txt, same_dim=False, paired=False)
    return float(relative_difference(effective_rank(zi), effective_rank(zt)))


def principal_scores(z: np.ndarray, dims: int) -> np.ndarray:
    """Scores (N, dims) of the centred unit rows on their ``dims`` leading principal components,
    each signed so its largest-magnitude score is positive; rotation invariant. dims <= min(N, d)."""
    x = _centred(_prepared(z)[0])
    n, d = x.shape
    if d <= n:
        _, vectors = np.linalg.eigh(x.T @ x)
        scores = x @ vectors[:, ::-1][:, :dims]
    else:
        lam, vectors = np.linalg.eigh(x @ x.T)
        top = slice(None, -dims - 1, -1)
        scores = vectors[:, top] * np.sqrt(np.clip(lam[top], 0.0, None))
    extreme = scores[np.argmax(np.abs(scores), axis=0), np.arange(scores.shape[1])]
    return scores * np.where(extreme < 0, -1.0, 1.0)
